// cxx20_sync.cc: C++20 synchronisation (libstdc++ waits with syscall(SYS_futex)):
// counting_semaphore (acquire released 50 ms later by a started thread, try_acquire_for
// timing out and succeeding), binary_semaphore ping-pong, latch, barrier with a
// completion function, atomic<T>::wait / notify_one / notify_all, jthread with
// stop_token (condition_variable_any waiting on a stop token, request_stop on
// destruction), and per thread ids distinct (gettid). A started ticker thread must
// keep counting during each wait (ticker.h).
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <latch>
#include <mutex>
#include <semaphore>
#include <set>
#include <stop_token>
#include <thread>
#include <vector>
#include <unistd.h>
#include "ticker.h"

using namespace std::chrono_literals;

#define CHECK(c) do { if (!(c)) { std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); std::exit(1); } } while (0)

static void semaphore_case()
{
	std::counting_semaphore<> sem(0);
	std::thread t([&] { std::this_thread::sleep_for(50ms); sem.release(); });
	unsigned long m = ticker_mark();
	sem.acquire();
	ticker_report("counting_semaphore acquire", m);
	t.join();

	auto t0 = std::chrono::steady_clock::now();
	bool got = sem.try_acquire_for(30ms);
	CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
	std::printf("try_acquire_for empty: %d\n", got);
	std::thread t2([&] { std::this_thread::sleep_for(20ms); sem.release(2); });
	got = sem.try_acquire_for(10s);
	std::printf("try_acquire_for released: %d, then try_acquire: %d\n", got, sem.try_acquire());
	t2.join();

	std::binary_semaphore ping(0), pong(0);
	int rounds = 0;
	std::thread p([&] { for (int i = 0; i < 1000; i++) { ping.acquire(); pong.release(); } });
	for (int i = 0; i < 1000; i++) { ping.release(); pong.acquire(); rounds++; }
	p.join();
	std::printf("binary_semaphore rounds: %d\n", rounds);
}

static void latch_case()
{
	std::latch done(4);
	std::atomic<int> sum{0};
	std::vector<std::thread> v;
	for (int i = 1; i <= 4; i++)
		v.emplace_back([&, i] { std::this_thread::sleep_for(std::chrono::milliseconds(10 * i)); sum += i; done.count_down(); });
	unsigned long m = ticker_mark();
	done.wait();
	ticker_report("latch wait", m);
	std::printf("latch sum: %d\n", sum.load());
	for (auto &t : v) t.join();
}

static void barrier_case()
{
	int phases = 0;
	std::atomic<int> work{0};
	std::barrier b(4, [&]() noexcept { phases++; });
	std::vector<std::thread> v;
	for (int i = 0; i < 4; i++)
		v.emplace_back([&, i] {
			for (int ph = 0; ph < 50; ph++) {
				if (i == ph % 4) std::this_thread::sleep_for(1ms);
				work++;
				b.arrive_and_wait();
			}
		});
	for (auto &t : v) t.join();
	std::printf("barrier phases: %d, work: %d\n", phases, work.load());
}

static void atomic_case()
{
	std::atomic<int> a{0};
	std::thread t([&] { std::this_thread::sleep_for(50ms); a.store(1); a.notify_one(); });
	unsigned long m = ticker_mark();
	a.wait(0);
	ticker_report("atomic wait", m);
	t.join();

	std::atomic<int> go{0}, woke{0};
	std::vector<std::thread> v;
	for (int i = 0; i < 5; i++)
		v.emplace_back([&] { go.wait(0); woke++; });
	std::this_thread::sleep_for(30ms);
	go.store(1);
	go.notify_all();
	for (auto &t : v) t.join();
	std::printf("atomic notify_all woke: %d\n", woke.load());

	// A counter handed back and forth 2000 times with wait/notify.
	std::atomic<int> turn{0};
	std::thread o([&] { for (int i = 0; i < 1000; i++) { turn.wait(2 * i); turn.store(2 * i + 2); turn.notify_one(); } });
	for (int i = 0; i < 1000; i++) { turn.store(2 * i + 1); turn.notify_one(); turn.wait(2 * i + 1); }
	o.join();
	std::printf("atomic ping-pong: %d\n", turn.load());
}

static void jthread_case()
{
	std::mutex mu;
	std::condition_variable_any cv;
	int seen = 0;
	{
		std::jthread j([&](std::stop_token st) {
			std::unique_lock lk(mu);
			while (!st.stop_requested())
				cv.wait(lk, st, [&] { return false; });
			seen = 1;
		});
		std::this_thread::sleep_for(20ms);
	}	// request_stop and join
	std::printf("jthread stopped in wait: %d\n", seen);

	std::atomic<int> loops{0};
	{
		std::jthread j([&](std::stop_token st) {
			while (!st.stop_requested()) { std::this_thread::sleep_for(1ms); loops++; }
		});
		std::this_thread::sleep_for(20ms);
		/* A loaded machine may not have run the thread yet (natively
		 * too: loops was 0): give it up to 5 s to go round once. */
		for (int i = 0; i < 5000 && loops.load() == 0; i++)
			std::this_thread::sleep_for(1ms);
		j.request_stop();
	}
	std::printf("jthread loop stopped: %d\n", loops.load() > 0);
}

static void ids_case()
{
	std::mutex mu;
	std::set<pid_t> ids;
	std::latch all(10);
	std::vector<std::thread> v;
	for (int i = 0; i < 10; i++)
		v.emplace_back([&] {
			{ std::lock_guard g(mu); ids.insert(gettid()); }
			all.arrive_and_wait();	// all alive at once
		});
	for (auto &t : v) t.join();
	ids.insert(gettid());
	std::printf("distinct thread ids: %zu, main's is the pid: %d\n", ids.size(), gettid() == getpid());
}

int main()
{
	setvbuf(stdout, nullptr, _IOLBF, 0);
	ticker_start();
	semaphore_case();
	latch_case();
	barrier_case();
	atomic_case();
	jthread_case();
	ids_case();
	ticker_end();
	return 0;
}
