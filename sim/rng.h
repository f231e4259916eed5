/* sim/rng.h: random streams. Every random stream is its own GSL generator (MT19937),
 * seeded from the scenario seed and a stream id through splitmix64, so adding a stream
 * never shifts another's numbers. Same seed and stream: same numbers, bit for bit. */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

/* NULL when out of memory. Free with gsl_rng_free. */
gsl_rng *sim_rng_new(uint64_t seed, uint64_t stream);
uint64_t sim_splitmix64(uint64_t *state);

#endif
