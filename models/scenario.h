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

#define SCN_MAX_SLOW_GPUS 64

typedef struct scn_config {
    struct {
        uint64_t seed;
        int replicas;            /* expert-data-parallel replicas simulated; 0 = all */
        int balanced;            /* also simulate the balanced counterfactual */
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
        double attn_efficiency;  /* fused attention, both directions; NAN = the preset's */
        double launch_us;        /* per kernel launch overhead */
        int nics_per_node;       /* -1 = one per GPU (rail-optimized) */
        double oversubscription; /* leaf down / up capacity */
        char slow_gpus[256];     /* "ID:FACTOR,..." as given; parsed into slow[] */
        int n_slow;
        struct {
            int gpu;
            double speed;        /* fraction of full compute speed, (0, 1] */
        } slow[SCN_MAX_SLOW_GPUS];
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
        /* architecture (issue 4; models/arch.h counts and costs it) */
        char preset[64];         /* "" or NAME: scenarios/presets/models/NAME.ini loaded first */
        char name[64];           /* display name, "" = none */
        char attention[8];       /* "gqa" (grouped-query) or "mla" (multi-head latent) */
        int head_dim;            /* per-head dim (GQA); -1 = hidden / heads */
        int q_lora_rank;         /* MLA: query compression rank, 0 = no compression */
        int kv_lora_rank;        /* MLA: joint key/value compression rank */
        int qk_nope_dim;         /* MLA: per-head query/key dim without rotary part */
        int qk_rope_dim;         /* MLA: per-head rotary dim (one shared key part) */
        int v_head_dim;          /* MLA: per-head value dim */
        int rope;                /* 1: rotary position embeddings on queries and keys */
        int qk_norm;             /* 1: RMSNorm on each head's query and key (Qwen3) */
        int attn_bias;           /* 1: biases on the Q, K, V and output projections */
        int expert_bias;         /* 1: biases on the router and expert matrices */
        int dense_layers;        /* leading layers with a dense FFN instead of MoE */
        int ffn_dense;           /* intermediate size of the dense FFN */
        int shared_experts;      /* always-active experts per MoE layer */
        int ffn_shared;          /* intermediate size of one shared expert; -1 = ffn_expert */
        int vocab;               /* vocabulary; 0 = no embedding / output layer modelled */
        int tied_embeddings;     /* 1: the output layer reuses the embedding matrix */
    } model;
    struct {
        int tp;                  /* tensor parallel (sequence parallel with it) */
        int pp;                  /* pipeline stages */
        int dp;                  /* data parallel; -1 = GPUs / (tp x pp) */
        int ep;                  /* expert parallel within a stage's tp x dp GPUs; -1 = auto */
        int vpp;                 /* model chunks per pipeline stage */
        char schedule[16];       /* 1f1b | interleaved */
        char order[16];          /* rank order, fastest first: tp-dp-pp, ... (models/par.h) */
        int zero;                /* ZeRO stage 0..3: sharding over the data-parallel group */
    } parallel;
    struct {
        int steps;               /* training steps simulated */
        int seq_len;
        int micro_batch;         /* sequences per micro-batch on one data-parallel rank */
        int global_batch;        /* sequences per step; -1 = dp x micro_batch */
        int overlap;             /* 1: communication overlaps compute where it may */
        double grad_bucket_MB;   /* gradient bucket, 1e6 bytes of bf16 gradients; 0 = one */         /* sequences per GPU per step */
        /* precision and memory (issue 4; models/memory.h) */
        char precision[8];       /* GEMM precision: "bf16" or "fp8" */
        char recompute[12];      /* activation recomputation: none | selective | full */
        double reserve_GB;       /* framework reserve per GPU (CUDA context, NCCL, allocator) */
    } training;
    struct {
        char model[32];
        double capacity_factor;  /* 0 = dropless */
        /* routing models, constraints, dynamics (issue 5; docs/ROUTING.md) */
        double skew;             /* zipf exponent */
        double alpha;            /* dirichlet concentration */
        int hot_experts;
        double hot_share;        /* router probability mass of the hot experts */
        char trace[256];         /* trace CSV path; "" = none */
        int node_limit;          /* 0 = off; else experts of a token on <= this many nodes */
        int group_nodes;         /* 0 = off; else two-level routing over groups of nodes */
        char dynamics[16];       /* none | drift | collapse */
        double drift_sigma;      /* std dev of the log-popularity step */
        double collapse_gain;    /* rich-get-richer exponent (>= 1) */
        double balance_alpha;    /* pull toward uniform, [0, 1] */
        double cold_threshold;   /* cold: share below this x 1/E */
        int cold_steps;          /* ... for this many consecutive steps */
        char sampler[16];        /* exact | multinomial (docs/ROUTING.md "Sampling at scale") */
        int pilot_tokens;        /* multinomial: tokens drawn exactly per layer and EP group */
    } routing;
    struct {
        char policy[16];         /* contiguous | round_robin */
        int spare_slots;         /* replica slots per GPU (load-aware replication) */
    } placement;
    struct {
        char model[32];          /* network model name (sim/net.h) */
        /* collectives (models/coll.h) */
        char all_reduce[32];     /* gradient all-reduce algorithm */
        char all_to_all[32];     /* dispatch/combine all-to-allv algorithm */
        double chunk_KiB;        /* pipeline chunk of ring/tree/NVLS; 0 = no chunking */
        int a2a_chunks;          /* the step's hierarchical all-to-alls: at most this many */
        int ring_bundles;        /* the step's rings as one bundle each (COLL_AGG_RINGS) */
        double flow_quantum_us;  /* flow model: rates updated only at multiples; 0 = exact */
        /* topology (models/topo.h) */
        char intra_topology[16]; /* nvswitch | pcie | mesh; "" = the GPU's usual one */
        int nvlink_bridge;       /* pcie nodes: NVLink bridges between GPU pairs */
        char pcie[32];           /* GPU <-> NIC PCIe link preset; "" = the GPU's */
        int rail_optimized;      /* NIC i of every node on leaf "rail i" */
        int nodes_per_leaf;
    } network;
    struct {                     /* GEMM cost model (issue 4; models/gemm.h) */
        char model[16];          /* "tiled" or "roofline" */
        int grouped;             /* 1: a layer's local experts in one grouped launch */
        int tile_m, tile_n;      /* output tile of the tiled model */
        char calibration[256];   /* CSV of measured GEMM times; "" = none */
    } gemm;
    struct {                     /* what training costs (models/cost.h) */
        double usd_per_gpu_hour;
        double train_tokens;     /* tokens of the whole training run */
    } cost;
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
