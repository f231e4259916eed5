/* models/place.h: where experts live on the GPUs of an expert-parallel (EP) group.
 *
 * Every GPU of an EP group has E/ep home slots plus `spare` replica slots; slot i of the
 * group lives on EP rank i / (E/ep + spare). Home copies follow a policy (contiguous:
 * expert e on rank e / (E/ep); round_robin: on rank e mod ep). Load-aware replication
 * (EPLB-style, github.com/deepseek-ai/EPLB) fills the spare slots with extra replicas of
 * the experts with the highest load per replica, each packed onto the least loaded GPU
 * that has a free spare slot and no copy of that expert yet; an expert's tokens are then
 * split evenly over its replicas. Pure arithmetic, no randomness, no I/O. */
#ifndef MODELS_PLACE_H
#define MODELS_PLACE_H

#include <stdint.h>

#include "sim/err.h"

typedef enum { PLACE_CONTIGUOUS, PLACE_ROUND_ROBIN } place_policy;

/* 0 and *out set for "contiguous" / "round_robin"; -1 otherwise. */
int place_policy_find(const char *name, place_policy *out);

/* EP rank holding the home copy of expert e (ep divides n_experts). */
int place_home_rank(place_policy pol, int ep, int n_experts, int e);

/* Slots per EP group: ep x (n_experts / ep + spare). */
static inline int place_n_slots(int ep, int n_experts, int spare)
{
    return ep * (n_experts / ep + spare);
}

/* Fills slot_expert[place_n_slots(...)] for one layer: home copies, then (spare > 0) the
 * replicas chosen from loads[n_experts] (expected or realized load of each expert; NULL
 * only when spare = 0). Slots left unused hold -1. SIM_ENOMEM only. */
sim_status place_plan(place_policy pol, int ep, int n_experts, int spare, const double *loads,
                      int *slot_expert);

/* Splits one EP group's counts[n_src][n_experts] over the slots: each expert's count from
 * each source is divided evenly among its replicas (the remainder going to replicas in an
 * order rotated by the source index). Writes slot_counts[n_src][n_slots] whole.
 * scratch: n_slots + n_experts + 1 ints. */
void place_split(int n_experts, int n_slots, const int *slot_expert, int n_src,
                 const int64_t *counts, int64_t *slot_counts, int *scratch);

#endif
