/* sim/time.c: the single conversion from model seconds to engine picoseconds. */
#include "sim/time.h"

#include <assert.h>
#include <math.h>

sim_time sim_time_from_s(double s)
{
    assert(s >= 0.0 && !isnan(s));
    double ps = s * SIM_PS_PER_S;
    if (ps >= 9.2e18)
        return SIM_TIME_MAX;
    return (sim_time)llround(ps);
}
