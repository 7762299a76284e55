/* dump_all.c: 10 threads blocked in read() on a pipe, 3 in sleep(), main sends itself
 * the signal named by GOSHIM_DUMP_SIGNAL; then everything finishes and prints "done".
 * dump_all.sh asserts the dump on stderr lists every green thread with its wait and
 * a symbolised backtrace. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <signal.h>
static int p[2];
void *reader_thread(void *a){ char c; read(p[0], &c, 1); return 0; }
void *sleeper_thread(void *a){ sleep(1); return 0; }
int main(){ pipe(p); pthread_t t[20]; for(int i=0;i<10;i++) pthread_create(&t[i],0,reader_thread,0); for(int i=10;i<13;i++) pthread_create(&t[i],0,sleeper_thread,0);
 usleep(100000); kill(getpid(), SIGQUIT); usleep(100000); write(p[1], "xxxxxxxxxx", 10); for(int i=0;i<13;i++) pthread_join(t[i],0); puts("done"); }
