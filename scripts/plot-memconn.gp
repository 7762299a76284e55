# plot-memconn.gp: bytes per idle connection (user + kernel) against the
# number of connections, one line per server, from memconn.sh's CSV.
#
# usage: gnuplot -e "csv='results/demo/memconn.csv'; out='results/demo/memconn.png'" \
#                scripts/plot-memconn.gp
# Columns used: 1 server, 2 conns, 3 status, 6 kernel, 10 total bytes/conn.
# Only rows whose status is "ok" are drawn (selected with grep, because a
# filtered-out point inside "using" would break each line at every row of
# another server).
if (!exists("csv")) csv = 'results/demo/memconn.csv'
if (!exists("out")) out = 'results/demo/memconn.png'

set terminal pngcairo size 1000,560 font ",11"
set output out
set datafile separator ","
set key outside right top
set title "Memory per idle echo connection: server RSS growth + kernel growth"
set xlabel "idle connections"
set ylabel "bytes per connection"
set grid
set yrange [0:*]
set xrange [0:*]

servers = "native preload go epoll"
colors = "#c0392b #27ae60 #2980b9 #7f8c8d"
rows(s) = sprintf("< grep '^%s,[0-9]*,ok,' '%s' | sort -t, -k2,2n", s, csv)

plot for [i = 1:words(servers)] rows(word(servers, i)) \
	using 2:10 with linespoints lw 2 pt 7 lc rgb word(colors, i) \
	title word(servers, i), \
     for [i = 1:words(servers)] rows(word(servers, i)) \
	using 2:6 with linespoints lw 1 dt 2 pt 6 lc rgb word(colors, i) \
	title word(servers, i)." (kernel part)"
