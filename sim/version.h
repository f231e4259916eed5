/* sim/version.h: the moesim version, stored with every run. */
#ifndef SIM_VERSION_H
#define SIM_VERSION_H
#define MOESIM_VERSION "0.1.0"
#endif
