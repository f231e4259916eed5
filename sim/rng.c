/* sim/rng.c: seeded GSL random streams. */
#include "sim/rng.h"

uint64_t sim_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

gsl_rng *sim_rng_new(uint64_t seed, uint64_t stream)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return NULL;
    uint64_t s = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    uint64_t v = sim_splitmix64(&s);
    /* gsl_rng_set takes unsigned long; MT19937 uses 32 bits of it. 0 means "default". */
    unsigned long k = (unsigned long)(v & 0xffffffffUL);
    gsl_rng_set(r, k ? k : 1UL);
    return r;
}
