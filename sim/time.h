/* sim/time.h: engine time. One integer type, picoseconds, so event order is exact and
 * runs are bit-for-bit reproducible. Models compute in double seconds and convert here,
 * in one place. */
#ifndef SIM_TIME_H
#define SIM_TIME_H

#include <stdint.h>

typedef int64_t sim_time;                 /* picoseconds */

#define SIM_PS_PER_S 1000000000000.0
#define SIM_TIME_MAX INT64_MAX

/* Seconds (finite, >= 0) to picoseconds, rounded to nearest; saturates at SIM_TIME_MAX. */
sim_time sim_time_from_s(double s);
static inline double sim_time_to_s(sim_time t) { return (double)t / SIM_PS_PER_S; }

#endif
