# plot.gp — time to safe termination: the helper vs the physical floor vs the fixed 300 s wait.
# Called by bench/bench.py:
#   gnuplot -e "bytes_dat='…'; chunks_dat='…'; burst_dat='…'; out='….png'; title='…'" bench/plot.gp
# Data columns: x (MB buffered, or chunks), helper median s, helper p95 s, floor median s, baseline s.
set terminal pngcairo size 1280,560 font "sans,10"
set output out
set multiplot layout 1,2 title title
set logscale xy
set grid xtics ytics lc rgb "#dddddd"
set key bottom right box opaque
set ylabel "SIGUSR1 → safe to terminate (s)"
set format y "%g"
set format x "%g"
set yrange [0.0003:3000]
set offsets graph 0.05, graph 0.05, 0, 0

set xlabel "buffered (MB, in 8 MiB chunks)"
set title "by buffered bytes"
plot bytes_dat using 1:5 with lines lw 2 dt 2 lc rgb "#c0392b" title "baseline: SIGUSR1 + fixed 300 s wait", \
     bytes_dat using 1:2:2:3 with yerrorlines lw 2 pt 7 lc rgb "#2471a3" title "fluent-flush (median, bar to p95)", \
     bytes_dat using 1:4 with linespoints lw 1 pt 6 lc rgb "#27ae60" title "floor: the agent's own last commit"

set xlabel "buffered chunks (one record each)"
set title "by number of chunks"
plot chunks_dat using 1:5 with lines lw 2 dt 2 lc rgb "#c0392b" title "baseline: SIGUSR1 + fixed 300 s wait", \
     chunks_dat using 1:2:2:3 with yerrorlines lw 2 pt 7 lc rgb "#2471a3" title "fluent-flush (median, bar to p95)", \
     chunks_dat using 1:4 with linespoints lw 1 pt 6 lc rgb "#27ae60" title "floor: the agent's own last commit", \
     burst_dat using 1:2 with points pt 9 ps 1.5 lc rgb "#8e44ad" title "fluent-flush, Fluentd's default 1 s burst interval", \
     burst_dat using 1:4 with points pt 8 ps 1.5 lc rgb "#27ae60" title "floor, default burst interval"
unset multiplot
