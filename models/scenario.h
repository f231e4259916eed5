/* models/scenario.h: what a scenario says, as plain validated structs.
 *
 * scn_keys is the table of every scenario key (section, name, type, range, default, unit)
 * that the generic loader in sim/cfg.h fills a scn_config from. scn_resolve then checks
 * the rules that span several keys and fills values left to the hardware presets. The
 * README's scenario reference documents the same table. No I/O here. */
#ifndef MODELS_SCENARIO_H
#define MODELS_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "sim/cfg.h"
#include "sim/err.h"

typedef struct scn_config {
    struct {
        uint64_t seed;
        int steps;
    } run;
    struct {
        char gpu[32];
        int nodes;
        int gpus_per_node;
        char intra[32];          /* intra-node link preset; "" = the GPU's usual one */
        char inter[32];          /* inter-node link preset */
        double intra_bw_GBps;    /* per GPU per direction; NAN = from preset */
        double intra_lat_us;
        double inter_bw_Gbps;    /* per GPU (NIC) per direction; NAN = from preset */
        double inter_lat_us;
        double link_efficiency;  /* NAN = each link preset's own */
        double gemm_efficiency;  /* NAN = the GPU preset's */
        double mem_efficiency;   /* NAN = the GPU preset's */
        double launch_us;        /* per kernel launch overhead */
    } cluster;
    struct {
        int layers;
        int hidden;
        int ffn_expert;          /* expert FFN intermediate size */
        int experts;
        int top_k;
        int heads;
        int kv_heads;
        int swiglu;              /* 1: gated (3 matrices), 0: plain MLP (2) */
    } model;
    struct {
        int ep;                  /* -1 = all GPUs */
    } parallel;
    struct {
        int seq_len;
        int micro_batch;         /* sequences per GPU per step */
    } training;
    struct {
        char model[32];
        double capacity_factor;  /* 0 = dropless */
    } routing;
    struct {
        char model[32];          /* network model name (sim/net.h) */
        /* collectives (models/coll.h) */
        char all_reduce[32];     /* gradient all-reduce algorithm */
        char all_to_all[32];     /* dispatch/combine all-to-allv algorithm */
        double chunk_KiB;        /* pipeline chunk of ring/tree/NVLS; 0 = no chunking */
        /* topology (models/topo.h) */
        char intra_topology[16]; /* nvswitch | pcie | mesh; "" = the GPU's usual one */
        int nvlink_bridge;       /* pcie nodes: NVLink bridges between GPU pairs */
        char pcie[32];           /* GPU <-> NIC PCIe link preset; "" = the GPU's */
        int nics_per_node;       /* -1 = one per GPU (rail-optimized) */
        int rail_optimized;      /* NIC i of every node on leaf "rail i" */
        int nodes_per_leaf;
        double oversubscription; /* leaf down / up capacity */
    } network;
} scn_config;

extern const sim_cfg_key scn_keys[];
extern const size_t scn_n_keys;

/* Checks cross-key rules and fills preset-derived values. On failure returns SIM_EINPUT
 * with a message "section.key: what was expected (got ...)" and, if bad_key is not NULL,
 * points *bad_key at that key's entry in scn_keys (so the caller can name its line). */
sim_status scn_resolve(scn_config *c, const sim_cfg_key **bad_key, sim_err *err);

static inline int scn_world(const scn_config *c)
{
    return c->cluster.nodes * c->cluster.gpus_per_node;
}

#endif
