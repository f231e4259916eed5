/* models/scenario.c: the scenario key table and the cross-key rules. */
#include "models/scenario.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hw.h"
#include "models/par.h"

#define OFF(f) offsetof(scn_config, f)
#define SZ(f) sizeof(((scn_config *)0)->f)
#define BIG 1e18

/* section, key, type, offset, size, min, max, flags, default, choices, unit, help */
const sim_cfg_key scn_keys[] = {
    {"run", "seed", SIM_CFG_U64, OFF(run.seed), 0, 0, 1.8446744073709552e19, 0, "1", NULL, "",
     "seed of every random stream"},

    {"run", "replicas", SIM_CFG_INT, OFF(run.replicas), 0, 0, 1 << 20, 0, "0", NULL, "replicas",
     "explicit reduction for large clusters: simulate only the first N expert-data-parallel "
     "replicas of every stage (N EP groups and their TP ranks), the others behaving like them; "
     "collectives spanning them cost their closed-form ring time (docs/MODEL.md "
     "\"Reductions\"); 0 = simulate every GPU"},

    {"run", "balanced", SIM_CFG_BOOL, OFF(run.balanced), 0, 0, 1, 0, "true", NULL, "",
     "also simulate the step with perfectly balanced routing, for the imbalance cost (a "
     "second simulation: false halves the time of very large runs, and leaves the "
     "imbalance figures out)"},

    {"cluster", "gpu", SIM_CFG_ENUM, OFF(cluster.gpu), SZ(cluster.gpu), 0, 0, 0, "h100-sxm",
     hw_gpu_names, "", "GPU preset"},
    {"cluster", "nodes", SIM_CFG_INT, OFF(cluster.nodes), 0, 1, 65536, 0, "1", NULL, "nodes",
     "number of nodes"},
    {"cluster", "gpus_per_node", SIM_CFG_INT, OFF(cluster.gpus_per_node), 0, 1, 1024, 0, "8",
     NULL, "GPUs", "GPUs per node"},
    {"cluster", "intra", SIM_CFG_ENUM, OFF(cluster.intra), SZ(cluster.intra), 0, 0,
     SIM_CFG_OPTIONAL, NULL, hw_link_names, "", "intra-node link preset (default: the GPU's own)"},
    {"cluster", "inter", SIM_CFG_ENUM, OFF(cluster.inter), SZ(cluster.inter), 0, 0, 0, "ndr400",
     hw_link_names, "", "inter-node link preset (one NIC per GPU)"},
    {"cluster", "intra_bw_GBps", SIM_CFG_DOUBLE, OFF(cluster.intra_bw_GBps), 0, 0, BIG,
     SIM_CFG_OPTIONAL | SIM_CFG_MIN_OPEN, NULL, NULL, "GB/s",
     "intra-node bandwidth per GPU per direction (default: from the link preset)"},
    {"cluster", "intra_lat_us", SIM_CFG_DOUBLE, OFF(cluster.intra_lat_us), 0, 0, 1e9,
     SIM_CFG_OPTIONAL, NULL, NULL, "us", "intra-node message latency"},
    {"cluster", "inter_bw_Gbps", SIM_CFG_DOUBLE, OFF(cluster.inter_bw_Gbps), 0, 0, BIG,
     SIM_CFG_OPTIONAL | SIM_CFG_MIN_OPEN, NULL, NULL, "Gb/s",
     "inter-node bandwidth per GPU (NIC) per direction (default: from the link preset)"},
    {"cluster", "inter_lat_us", SIM_CFG_DOUBLE, OFF(cluster.inter_lat_us), 0, 0, 1e9,
     SIM_CFG_OPTIONAL, NULL, NULL, "us", "inter-node message latency"},
    {"cluster", "link_efficiency", SIM_CFG_DOUBLE, OFF(cluster.link_efficiency), 0, 0, 1,
     SIM_CFG_OPTIONAL | SIM_CFG_MIN_OPEN, NULL, NULL, "fraction",
     "achievable fraction of every link's bandwidth (1 = ideal; default: each preset's)"},
    {"cluster", "gemm_efficiency", SIM_CFG_DOUBLE, OFF(cluster.gemm_efficiency), 0, 0, 1,
     SIM_CFG_OPTIONAL | SIM_CFG_MIN_OPEN, NULL, NULL, "fraction",
     "achieved fraction of the tensor-core peak (default: the GPU preset's)"},
    {"cluster", "mem_efficiency", SIM_CFG_DOUBLE, OFF(cluster.mem_efficiency), 0, 0, 1,
     SIM_CFG_OPTIONAL | SIM_CFG_MIN_OPEN, NULL, NULL, "fraction",
     "achieved fraction of HBM bandwidth (default: the GPU preset's)"},
    {"cluster", "attn_efficiency", SIM_CFG_DOUBLE, OFF(cluster.attn_efficiency), 0, 0, 1,
     SIM_CFG_OPTIONAL | SIM_CFG_MIN_OPEN, NULL, NULL, "fraction",
     "achieved fraction of the bf16 peak in the fused attention kernel, forward and backward, "
     "at every sequence length (default: the GPU preset's, by sequence length, measured with "
     "cuDNN on H100: docs/MODEL.md)"},
    {"cluster", "launch_us", SIM_CFG_DOUBLE, OFF(cluster.launch_us), 0, 0, 1e6, 0, "4", NULL,
     "us", "fixed overhead per kernel launch"},
    {"cluster", "nics_per_node", SIM_CFG_INT, OFF(cluster.nics_per_node), 0, 1, 1024,
     SIM_CFG_OPTIONAL, NULL, NULL, "NICs", "NICs per node, shared by the GPUs (default: one per GPU)"},
    {"cluster", "oversubscription", SIM_CFG_DOUBLE, OFF(cluster.oversubscription), 0, 1, 1e6, 0,
     "1", NULL, "ratio", "leaf down/up capacity ratio of the leaf-spine fat tree (1 = non-blocking)"},
    {"cluster", "slow_gpus", SIM_CFG_STRING, OFF(cluster.slow_gpus), SZ(cluster.slow_gpus), 0, 0,
     0, "", NULL, "ID:FACTOR,...",
     "GPUs that compute slower: GPU ID runs its kernels at FACTOR of full speed (0 < FACTOR <= 1)"},

    {"model", "layers", SIM_CFG_INT, OFF(model.layers), 0, 1, 100000, 0, "32", NULL, "",
     "transformer layers (each with attention and an MoE FFN)"},
    {"model", "hidden", SIM_CFG_INT, OFF(model.hidden), 0, 1, 1 << 20, 0, "4096", NULL, "",
     "hidden size d"},
    {"model", "ffn_expert", SIM_CFG_INT, OFF(model.ffn_expert), 0, 1, 1 << 22, 0, "14336",
     NULL, "", "intermediate size of one expert's FFN"},
    {"model", "experts", SIM_CFG_INT, OFF(model.experts), 0, 1, 1 << 16, 0, "8", NULL, "",
     "routed experts per MoE layer"},
    {"model", "top_k", SIM_CFG_INT, OFF(model.top_k), 0, 1, 1 << 16, 0, "2", NULL, "",
     "experts each token is routed to"},
    {"model", "heads", SIM_CFG_INT, OFF(model.heads), 0, 1, 1 << 16, 0, "32", NULL, "",
     "attention (query) heads"},
    {"model", "kv_heads", SIM_CFG_INT, OFF(model.kv_heads), 0, 1, 1 << 16, 0, "8", NULL, "",
     "key/value heads (grouped-query attention)"},
    {"model", "swiglu", SIM_CFG_BOOL, OFF(model.swiglu), 0, 0, 1, 0, "true", NULL, "",
     "gated (SwiGLU, 3 matrices) experts; false: plain 2-matrix MLP"},
    /* architecture keys (issue 4): docs/MODEL.md "Architectures" */
    {"model", "preset", SIM_CFG_STRING, OFF(model.preset), SZ(model.preset), 0, 0, 0, "", NULL,
     "", "model preset: scenarios/presets/models/NAME.ini, loaded before this file's keys"},
    {"model", "name", SIM_CFG_STRING, OFF(model.name), SZ(model.name), 0, 0, 0, "", NULL, "",
     "display name of the model"},
    {"model", "attention", SIM_CFG_ENUM, OFF(model.attention), SZ(model.attention), 0, 0, 0,
     "gqa", "gqa|mla", "", "attention: grouped-query (gqa) or multi-head latent (mla)"},
    {"model", "head_dim", SIM_CFG_INT, OFF(model.head_dim), 0, 1, 1 << 16, SIM_CFG_OPTIONAL,
     NULL, NULL, "", "per-head dimension (gqa; default hidden / heads)"},
    {"model", "q_lora_rank", SIM_CFG_INT, OFF(model.q_lora_rank), 0, 0, 1 << 20, 0, "0", NULL,
     "", "mla: query compression rank (0 = uncompressed queries)"},
    {"model", "kv_lora_rank", SIM_CFG_INT, OFF(model.kv_lora_rank), 0, 0, 1 << 20, 0, "0", NULL,
     "", "mla: key/value compression rank"},
    {"model", "qk_nope_dim", SIM_CFG_INT, OFF(model.qk_nope_dim), 0, 0, 1 << 16, 0, "0", NULL,
     "", "mla: per-head query/key dimension without rotary embedding"},
    {"model", "qk_rope_dim", SIM_CFG_INT, OFF(model.qk_rope_dim), 0, 0, 1 << 16, 0, "0", NULL,
     "", "mla: per-head rotary query/key dimension"},
    {"model", "v_head_dim", SIM_CFG_INT, OFF(model.v_head_dim), 0, 0, 1 << 16, 0, "0", NULL, "",
     "mla: per-head value dimension"},
    {"model", "rope", SIM_CFG_BOOL, OFF(model.rope), 0, 0, 1, 0, "true", NULL, "",
     "rotary position embeddings on the queries and keys (costed as a memory-bound kernel "
     "each; false: learned or no position embeddings)"},
    {"model", "qk_norm", SIM_CFG_BOOL, OFF(model.qk_norm), 0, 0, 1, 0, "false", NULL, "",
     "RMSNorm on each head's query and key"},
    {"model", "attn_bias", SIM_CFG_BOOL, OFF(model.attn_bias), 0, 0, 1, 0, "false", NULL, "",
     "biases on the query, key, value and output projections"},
    {"model", "expert_bias", SIM_CFG_BOOL, OFF(model.expert_bias), 0, 0, 1, 0, "false", NULL, "",
     "biases on the router and the expert matrices"},
    {"model", "dense_layers", SIM_CFG_INT, OFF(model.dense_layers), 0, 0, 100000, 0, "0", NULL,
     "", "leading layers with a dense FFN instead of experts (= layers: a dense model)"},
    {"model", "ffn_dense", SIM_CFG_INT, OFF(model.ffn_dense), 0, 0, 1 << 22, 0, "0", NULL, "",
     "intermediate size of the dense FFN (needed when dense_layers > 0)"},
    {"model", "shared_experts", SIM_CFG_INT, OFF(model.shared_experts), 0, 0, 1 << 10, 0, "0",
     NULL, "", "always-active (shared) experts per MoE layer"},
    {"model", "ffn_shared", SIM_CFG_INT, OFF(model.ffn_shared), 0, 1, 1 << 22, SIM_CFG_OPTIONAL,
     NULL, NULL, "", "intermediate size of one shared expert (default ffn_expert)"},
    {"model", "vocab", SIM_CFG_INT, OFF(model.vocab), 0, 0, 1 << 24, 0, "0", NULL, "",
     "vocabulary size; 0 = embedding and output layer not modelled"},
    {"model", "tied_embeddings", SIM_CFG_BOOL, OFF(model.tied_embeddings), 0, 0, 1, 0, "false",
     NULL, "", "the output layer reuses the embedding matrix"},

    {"parallel", "tp", SIM_CFG_INT, OFF(parallel.tp), 0, 1, 1 << 16, 0, "1", NULL, "GPUs",
     "tensor-parallel degree (attention, dense and shared-expert FFNs, with sequence "
     "parallelism; routed experts are not tensor-parallel)"},
    {"parallel", "pp", SIM_CFG_INT, OFF(parallel.pp), 0, 1, 1 << 16, 0, "1", NULL, "stages",
     "pipeline-parallel stages"},
    {"parallel", "dp", SIM_CFG_INT, OFF(parallel.dp), 0, 1, 1 << 24, SIM_CFG_OPTIONAL, NULL,
     NULL, "GPUs", "data-parallel degree (default: GPUs / (tp x pp))"},
    {"parallel", "ep", SIM_CFG_INT, OFF(parallel.ep), 0, 1, 1 << 20, SIM_CFG_OPTIONAL, NULL,
     NULL, "GPUs", "expert-parallel degree, within each pipeline stage's tp x dp GPUs "
     "(default: the largest common divisor of model.experts and tp x dp)"},
    {"parallel", "vpp", SIM_CFG_INT, OFF(parallel.vpp), 0, 1, 1 << 10, 0, "1", NULL, "chunks",
     "virtual pipeline stages: model chunks per pipeline stage (> 1 needs schedule = "
     "interleaved)"},
    {"parallel", "schedule", SIM_CFG_ENUM, OFF(parallel.schedule), SZ(parallel.schedule), 0, 0,
     0, "1f1b", "1f1b|interleaved", "", "pipeline schedule: 1F1B, or Megatron's interleaved 1F1B "
     "over parallel.vpp chunks"},
    {"parallel", "order", SIM_CFG_ENUM, OFF(parallel.order), SZ(parallel.order), 0, 0, 0,
     "tp-dp-pp", par_order_names, "", "rank-to-GPU order, fastest-varying first (tp-dp-pp: "
     "tensor-parallel, then expert/data-parallel ranks inside a node, pipeline stages "
     "outermost)"},
    {"parallel", "zero", SIM_CFG_INT, OFF(parallel.zero), 0, 0, 3, 0, "0", NULL, "",
     "ZeRO stage: 1 shards optimizer state, 2 also gradients, 3 also weights"},
    {"training", "steps", SIM_CFG_INT, OFF(training.steps), 0, 1, 1000000, 0, "1", NULL, "steps",
     "training steps to simulate (routing is drawn anew each step)"},
    {"training", "seq_len", SIM_CFG_INT, OFF(training.seq_len), 0, 1, 1 << 24, 0, "4096",
     NULL, "tokens", "sequence length"},
    {"training", "micro_batch", SIM_CFG_INT, OFF(training.micro_batch), 0, 1, 1 << 20, 0, "1",
     NULL, "sequences", "sequences per micro-batch on each data-parallel rank"},
    {"training", "global_batch", SIM_CFG_INT, OFF(training.global_batch), 0, 1, 1 << 30,
     SIM_CFG_OPTIONAL, NULL, NULL, "sequences",
     "sequences per step over all data-parallel ranks (default: dp x micro_batch, one "
     "micro-batch; more means gradient accumulation over dp x micro_batch-sized micro-batches)"},
    {"training", "overlap", SIM_CFG_BOOL, OFF(training.overlap), 0, 0, 1, 0, "true", NULL, "",
     "communication overlaps compute where dependencies allow (shared experts with the "
     "dispatch, gradient buckets with the backward, parameter all-gathers with the forward); "
     "false serializes them"},
    {"training", "grad_bucket_MB", SIM_CFG_DOUBLE, OFF(training.grad_bucket_MB), 0, 0, 1e9, 0,
     "80", NULL, "MB", "gradient bucket (bf16 gradients): each is reduced as soon as the "
     "backward pass has produced it (Megatron: 40M parameters); 0 = one bucket per model chunk"},
    /* precision and memory keys (issue 4): docs/MODEL.md "Memory footprint" */
    {"training", "precision", SIM_CFG_ENUM, OFF(training.precision), SZ(training.precision), 0,
     0, 0, "bf16", "bf16|fp8", "", "GEMM precision (fp8: 1-byte operands at the fp8 peak and efficiency, with "
     "cast kernels; router and output layer in bf16; still optimistic: docs/VALIDATION.md)"},
    {"training", "recompute", SIM_CFG_ENUM, OFF(training.recompute), SZ(training.recompute), 0,
     0, 0, "none", "none|selective|full", "", "activation recomputation"},
    {"training", "reserve_GB", SIM_CFG_DOUBLE, OFF(training.reserve_GB), 0, 0, 1e6, 0, "4", NULL,
     "GB", "memory per GPU held by the framework (CUDA context, NCCL, allocator)"},

    {"routing", "model", SIM_CFG_ENUM, OFF(routing.model), SZ(routing.model), 0, 0, 0,
     "uniform", "uniform|zipf|dirichlet|hot|trace|expert_choice", "",
     "routing model (docs/ROUTING.md)"},
    {"routing", "capacity_factor", SIM_CFG_DOUBLE, OFF(routing.capacity_factor), 0, 0, 1e6, 0,
     "0", NULL, "", "expert capacity as a multiple of the balanced load; 0 = dropless"},
    /* routing models, constraints, dynamics, cold experts; placement (issue 5) */
    {"routing", "skew", SIM_CFG_DOUBLE, OFF(routing.skew), 0, 0, 100, 0, "1", NULL, "",
     "zipf: expert popularity ~ 1/rank^skew (ranks shuffled per layer)"},
    {"routing", "alpha", SIM_CFG_DOUBLE, OFF(routing.alpha), 0, 0, 1e6, SIM_CFG_MIN_OPEN, "1",
     NULL, "", "dirichlet: concentration (small = spiky popularity)"},
    {"routing", "hot_experts", SIM_CFG_INT, OFF(routing.hot_experts), 0, 1, 65536, 0, "1",
     NULL, "experts", "hot: number of hot experts"},
    {"routing", "hot_share", SIM_CFG_DOUBLE, OFF(routing.hot_share), 0, 0, 1, 0, "0.5", NULL,
     "fraction", "hot: router probability mass of the hot experts together"},
    {"routing", "trace", SIM_CFG_STRING, OFF(routing.trace), SZ(routing.trace), 0, 0,
     SIM_CFG_OPTIONAL, NULL, NULL, "path",
     "trace: CSV of routed tokens (relative to the scenario file's directory)"},
    {"routing", "node_limit", SIM_CFG_INT, OFF(routing.node_limit), 0, 0, 65536, 0, "0", NULL,
     "nodes", "node-limited routing: each token's experts on at most this many nodes; 0 = off"},
    {"routing", "group_nodes", SIM_CFG_INT, OFF(routing.group_nodes), 0, 0, 65536, 0, "0",
     NULL, "nodes", "two-level routing: a token picks a group of this many nodes, then its "
     "experts inside it; 0 = off"},
    {"routing", "dynamics", SIM_CFG_ENUM, OFF(routing.dynamics), SZ(routing.dynamics), 0, 0, 0,
     "none", "none|drift|collapse", "", "how popularity evolves over steps"},
    {"routing", "drift_sigma", SIM_CFG_DOUBLE, OFF(routing.drift_sigma), 0, 0, 10, 0, "0.1",
     NULL, "", "drift: std dev of each expert's log-popularity step per training step"},
    {"routing", "collapse_gain", SIM_CFG_DOUBLE, OFF(routing.collapse_gain), 0, 1, 100, 0, "2",
     NULL, "", "collapse: rich-get-richer exponent applied to last step's shares"},
    {"routing", "balance_alpha", SIM_CFG_DOUBLE, OFF(routing.balance_alpha), 0, 0, 1, 0, "0.6",
     NULL, "", "collapse: balancing pull toward uniform (0 = none, 1 = always uniform)"},
    {"routing", "cold_threshold", SIM_CFG_DOUBLE, OFF(routing.cold_threshold), 0, 0, 1, 0,
     "0.1", NULL, "x 1/E", "an expert is cold in a step below this share of the balanced share"},
    {"routing", "cold_steps", SIM_CFG_INT, OFF(routing.cold_steps), 0, 1, 1000000, 0, "1",
     NULL, "steps", "consecutive cold steps before an expert is flagged"},
    {"routing", "sampler", SIM_CFG_ENUM, OFF(routing.sampler), SZ(routing.sampler), 0, 0, 0,
     "exact", "exact|multinomial", "",
     "exact: every token draws its k experts; multinomial: a pilot of tokens drawn exactly per "
     "layer and EP group, then each GPU's counts as one multinomial (fast at scale)"},
    {"routing", "pilot_tokens", SIM_CFG_INT, OFF(routing.pilot_tokens), 0, 1, 1 << 24, 0, "16384",
     NULL, "tokens", "multinomial sampler: tokens drawn exactly to estimate each expert's share"},
    {"placement", "policy", SIM_CFG_ENUM, OFF(placement.policy), SZ(placement.policy), 0, 0, 0,
     "contiguous", "contiguous|round_robin", "", "where each expert's home copy lives"},
    {"placement", "spare_slots", SIM_CFG_INT, OFF(placement.spare_slots), 0, 0, 4096, 0, "0",
     NULL, "slots", "extra expert slots per GPU, filled with replicas of the hottest experts "
     "(EPLB-style); 0 = no replication"},

    /* network: link sharing, collective algorithms, topology (issue 3) */
    {"network", "model", SIM_CFG_ENUM, OFF(network.model), SZ(network.model), 0, 0, 0,
     "flow", "flow|analytic", "",
     "how flows share links: flow = max-min fair sharing, analytic = no contention"},
    {"network", "all_reduce", SIM_CFG_ENUM, OFF(network.all_reduce), SZ(network.all_reduce), 0,
     0, 0, "ring", "ring|tree|hierarchical|nvls", "", "gradient all-reduce algorithm"},
    {"network", "all_to_all", SIM_CFG_ENUM, OFF(network.all_to_all), SZ(network.all_to_all), 0,
     0, 0, "direct", "direct|pairwise|hierarchical", "",
     "dispatch/combine all-to-allv algorithm"},
    {"network", "a2a_chunks", SIM_CFG_INT, OFF(network.a2a_chunks), 0, 1, 16, 0, "4", NULL,
     "chunks", "in the training step, chunks a hierarchical all-to-all pipelines at most (its "
     "rail and NVLink stages overlap chunk by chunk; moesim coll uses up to 16)"},
    {"network", "ring_bundles", SIM_CFG_BOOL, OFF(network.ring_bundles), 0, 0, 1, 0, "true",
     NULL, "", "in the training step, every ring collective's ring moves as one bundle of its "
     "edges at one rate (the fluid limit of a ring; docs/MODEL.md \"Reductions\"); false: "
     "every ring step as its own flows"},
    {"network", "flow_quantum_us", SIM_CFG_DOUBLE, OFF(network.flow_quantum_us), 0, 0, 1e6, 0,
     "0", NULL, "us", "flow model: recompute rates only at multiples of this time, so flows "
     "start and end up to that late (an approximation for very large runs, docs/NETWORK.md "
     "\"Update quantum\"); 0 = exact"},
    {"network", "chunk_KiB", SIM_CFG_DOUBLE, OFF(network.chunk_KiB), 0, 0, 1e9, 0, "512", NULL,
     "KiB", "pipeline chunk of ring, tree and NVLS collectives (NCCL Simple: 512); 0 = none"},
    {"network", "intra_topology", SIM_CFG_ENUM, OFF(network.intra_topology),
     SZ(network.intra_topology), 0, 0, SIM_CFG_OPTIONAL, NULL, "nvswitch|pcie|mesh", "",
     "inside a node: NVSwitch, PCIe through the CPU, or a full mesh (default: the GPU's)"},
    {"network", "nvlink_bridge", SIM_CFG_BOOL, OFF(network.nvlink_bridge), 0, 0, 1, 0, "false",
     NULL, "", "pcie nodes: GPUs 2i and 2i+1 joined by an NVLink bridge (nvlink-bridge)"},
    {"network", "pcie", SIM_CFG_ENUM, OFF(network.pcie), SZ(network.pcie), 0, 0,
     SIM_CFG_OPTIONAL, NULL, hw_link_names, "", "GPU-to-NIC PCIe link preset (default: the GPU's)"},
    {"network", "rail_optimized", SIM_CFG_BOOL, OFF(network.rail_optimized), 0, 0, 1, 0, "true",
     NULL, "", "NIC i of every node on its own leaf (rail); false: a node's NICs on one leaf"},
    {"network", "nodes_per_leaf", SIM_CFG_INT, OFF(network.nodes_per_leaf), 0, 1, 65536, 0, "32",
     NULL, "nodes", "nodes under one leaf switch (DGX SuperPOD scalable unit: 32)"},

    /* GEMM cost model keys (issue 4): docs/MODEL.md "GEMM cost" */
    {"gemm", "model", SIM_CFG_ENUM, OFF(gemm.model), SZ(gemm.model), 0, 0, 0, "tiled",
     "tiled|roofline", "", "GEMM cost model (tiled: tile and wave quantization)"},
    {"gemm", "grouped", SIM_CFG_BOOL, OFF(gemm.grouped), 0, 0, 1, 0, "true", NULL, "",
     "a GPU's experts of one layer in one grouped launch; false: one launch per expert"},
    {"gemm", "tile_m", SIM_CFG_INT, OFF(gemm.tile_m), 0, 16, 1024, 0, "128", NULL, "",
     "rows of one output tile (tiled model)"},
    {"gemm", "tile_n", SIM_CFG_INT, OFF(gemm.tile_n), 0, 16, 1024, 0, "128", NULL, "",
     "columns of one output tile (tiled model)"},
    {"gemm", "calibration", SIM_CFG_STRING, OFF(gemm.calibration), SZ(gemm.calibration), 0, 0,
     0, "", NULL, "", "CSV of measured GEMM times (m,n,k,dtype,time_us) that overrides the model"},

    /* cost of a training run (models/cost.h) */
    {"cost", "usd_per_gpu_hour", SIM_CFG_DOUBLE, OFF(cost.usd_per_gpu_hour), 0, 0, 1e9, 0, "2",
     NULL, "USD", "price of one GPU-hour (default: an assumed spot H100 price)"},
    {"cost", "train_tokens", SIM_CFG_DOUBLE, OFF(cost.train_tokens), 0, 0, 1e18,
     SIM_CFG_MIN_OPEN, "1e12", NULL, "tokens", "tokens of the whole training run"},
};
const size_t scn_n_keys = sizeof scn_keys / sizeof scn_keys[0];

static double or_default(double v, double preset) { return isnan(v) ? preset : v; }

/* Reports that key `dotted` breaks a rule: the message is "dotted: <fmt...>". */
static sim_status fail(const sim_cfg_key **bad_key, sim_err *err, const char *dotted,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static sim_status fail(const sim_cfg_key **bad_key, sim_err *err, const char *dotted,
                       const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (bad_key)
        *bad_key = sim_cfg_find(scn_keys, scn_n_keys, dotted);
    return sim_err_set(err, SIM_EINPUT, "%s: %s", dotted, what);
}

/* cluster.slow_gpus = "ID:FACTOR,ID:FACTOR,..." (spaces allowed around the parts). */
static sim_status parse_slow_gpus(scn_config *c, const sim_cfg_key **bad_key, sim_err *err)
{
    const char *key = "cluster.slow_gpus", *p = c->cluster.slow_gpus;
    int world = scn_world(c);
    c->cluster.n_slow = 0;
    while (*p == ' ')
        p++;
    while (*p) {
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p || *end != ':')
            return fail(bad_key, err, key, "expected ID:FACTOR pairs separated by commas "
                        "(got \"%s\")", c->cluster.slow_gpus);
        p = end + 1;
        double f = strtod(p, &end);
        if (end == p)
            return fail(bad_key, err, key, "expected a FACTOR after \"%ld:\" (got \"%s\")", id,
                        c->cluster.slow_gpus);
        if (id < 0 || id >= world)
            return fail(bad_key, err, key, "GPU %ld does not exist (GPUs 0..%d)", id, world - 1);
        if (!(f > 0 && f <= 1))
            return fail(bad_key, err, key, "GPU %ld: expected a speed factor in (0, 1] (got %g)",
                        id, f);
        for (int i = 0; i < c->cluster.n_slow; i++)
            if (c->cluster.slow[i].gpu == id)
                return fail(bad_key, err, key, "GPU %ld is listed twice", id);
        if (c->cluster.n_slow == SCN_MAX_SLOW_GPUS)
            return fail(bad_key, err, key, "at most %d slow GPUs", SCN_MAX_SLOW_GPUS);
        c->cluster.slow[c->cluster.n_slow].gpu = (int)id;
        c->cluster.slow[c->cluster.n_slow++].speed = f;
        p = end;
        while (*p == ' ')
            p++;
        if (*p == ',') {
            p++;
            while (*p == ' ')
                p++;
            if (!*p)
                return fail(bad_key, err, key, "expected ID:FACTOR after the last comma");
        } else if (*p) {
            return fail(bad_key, err, key, "expected a comma between pairs (got \"%s\")",
                        c->cluster.slow_gpus);
        }
    }
    return SIM_OK;
}

static int gcd(int a, int b)
{
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Parallel degrees, batch and the straggler list (issue 6; models/par.h). */
static sim_status resolve_parallel(scn_config *c, const sim_cfg_key **bad_key, sim_err *err)
{
    int world = scn_world(c), tp = c->parallel.tp, pp = c->parallel.pp;
    if ((int64_t)tp * pp > world || world % (tp * pp) != 0)
        return fail(bad_key, err, tp > 1 ? "parallel.tp" : "parallel.pp",
                    "parallel.tp x parallel.pp = %d x %d must divide the %d GPUs", tp, pp,
                    world);
    if (c->parallel.dp < 0)
        c->parallel.dp = world / (tp * pp);
    int dp = c->parallel.dp;
    if ((int64_t)tp * pp * dp != world)
        return fail(bad_key, err, "parallel.dp",
                    "expected tp x pp x dp = the %d GPUs (got %d x %d x %d = %lld)", world, tp,
                    pp, dp, (long long)tp * pp * dp);
    const int E = c->model.experts, H = c->model.heads;
    if (H % tp != 0)
        return fail(bad_key, err, "parallel.tp", "expected a divisor of model.heads = %d (got %d)",
                    H, tp);
    if (strcmp(c->model.attention, "gqa") == 0 && c->model.kv_heads % tp != 0)
        return fail(bad_key, err, "parallel.tp",
                    "expected a divisor of model.kv_heads = %d (got %d)", c->model.kv_heads, tp);
    if (c->model.dense_layers > 0 && c->model.ffn_dense % tp != 0)
        return fail(bad_key, err, "parallel.tp",
                    "expected a divisor of model.ffn_dense = %d (got %d)", c->model.ffn_dense, tp);
    if (c->model.shared_experts > 0 && c->model.ffn_shared % tp != 0)
        return fail(bad_key, err, "parallel.tp",
                    "expected a divisor of model.ffn_shared = %d (got %d)", c->model.ffn_shared,
                    tp);
    if (((int64_t)c->training.seq_len * c->training.micro_batch) % tp != 0)
        return fail(bad_key, err, "parallel.tp",
                    "sequence parallelism splits each micro-batch's seq_len x micro_batch = "
                    "%lld tokens over the TP ranks: expected a divisor (got %d)",
                    (long long)c->training.seq_len * c->training.micro_batch, tp);
    int plane = tp * dp;
    if (c->parallel.ep < 0)
        c->parallel.ep = c->model.dense_layers == c->model.layers ? 1 : gcd(E, plane);
    int ep = c->parallel.ep;
    if (ep > plane || plane % ep != 0)
        return fail(bad_key, err, "parallel.ep",
                    "expected a divisor of tp x dp = %d, the GPUs of one pipeline stage (got %d)",
                    plane, ep);
    if (E % ep != 0)
        return fail(bad_key, err, "parallel.ep",
                    "expected a divisor of model.experts = %d (got %d)", E, ep);
    int interleaved = strcmp(c->parallel.schedule, "interleaved") == 0;
    if (c->parallel.vpp > 1 && !interleaved)
        return fail(bad_key, err, "parallel.vpp",
                    "expected 1 with parallel.schedule = 1f1b (got %d; use interleaved)",
                    c->parallel.vpp);
    if (interleaved && c->parallel.vpp < 2)
        return fail(bad_key, err, "parallel.schedule",
                    "interleaved needs parallel.vpp > 1 model chunks per stage");
    if (interleaved && pp < 2)
        return fail(bad_key, err, "parallel.schedule",
                    "interleaved needs parallel.pp > 1 stages");
    int64_t chunks = (int64_t)pp * c->parallel.vpp;
    if (chunks > c->model.layers)
        return fail(bad_key, err, pp > 1 && c->parallel.vpp == 1 ? "parallel.pp" : "parallel.vpp",
                    "pp x vpp = %lld model chunks but model.layers = %d: every chunk needs a "
                    "layer", (long long)chunks, c->model.layers);
    int64_t per_micro = (int64_t)dp * c->training.micro_batch;
    if (c->training.global_batch < 0) {
        if (per_micro > 1 << 30)
            return fail(bad_key, err, "training.micro_batch",
                        "dp x micro_batch = %lld sequences per step is too large",
                        (long long)per_micro);
        c->training.global_batch = (int)per_micro;
    }
    if (c->training.global_batch % per_micro != 0)
        return fail(bad_key, err, "training.global_batch",
                    "expected a multiple of dp x micro_batch = %d x %d = %lld sequences (got %d)",
                    dp, c->training.micro_batch, (long long)per_micro, c->training.global_batch);
    int64_t n_micro = c->training.global_batch / per_micro;
    if (interleaved && n_micro % pp != 0)
        return fail(bad_key, err, "training.global_batch",
                    "the interleaved schedule needs a multiple of pp = %d micro-batches per "
                    "data-parallel rank (got %lld)", pp, (long long)n_micro);
    int edp = plane / ep, R = c->run.replicas;
    if (R > 0 && R < edp) {
        if (edp % R != 0)
            return fail(bad_key, err, "run.replicas",
                        "expected a divisor of the %d expert-data-parallel replicas (got %d)",
                        edp, R);
        if (((int64_t)R * ep) % tp != 0)
            return fail(bad_key, err, "run.replicas",
                        "the simulated replicas' %lld GPUs per stage must hold whole TP groups "
                        "of %d", (long long)R * ep, tp);
    }
    sim_status sst = parse_slow_gpus(c, bad_key, err);
    if (sst != SIM_OK || R <= 0 || R >= edp)
        return sst;
    for (int i = 0; i < c->cluster.n_slow; i++) {
        par_layout pl;
        par_layout_of(c, &pl);
        int s, q;
        par_coords(&pl, c->cluster.slow[i].gpu, &s, &q);
        if (q >= pl.sim_plane)
            return fail(bad_key, err, "cluster.slow_gpus",
                        "GPU %d is not simulated with run.replicas = %d (its stage's simulated "
                        "GPUs have plane indices below %d; docs/MODEL.md \"Reductions\")",
                        c->cluster.slow[i].gpu, R, pl.sim_plane);
    }
    return SIM_OK;
}

sim_status scn_resolve(scn_config *c, const sim_cfg_key **bad_key, sim_err *err)
{
    const hw_gpu *gpu = hw_gpu_find(c->cluster.gpu);
    if (!gpu)
        return fail(bad_key, err, "cluster.gpu", "unknown preset \"%s\" (expected one of %s)",
                    c->cluster.gpu, hw_gpu_names);
    if (c->cluster.intra[0] == '\0')
        snprintf(c->cluster.intra, sizeof c->cluster.intra, "%s", gpu->intra);
    const hw_link *intra = hw_link_find(c->cluster.intra);
    const hw_link *inter = hw_link_find(c->cluster.inter);
    if (!intra || !inter)
        return fail(bad_key, err, intra ? "cluster.inter" : "cluster.intra",
                    "unknown link preset (expected one of %s)", hw_link_names);
    c->cluster.intra_bw_GBps = or_default(c->cluster.intra_bw_GBps, intra->bw_GBps);
    c->cluster.intra_lat_us = or_default(c->cluster.intra_lat_us, intra->lat_us);
    c->cluster.inter_bw_Gbps = or_default(c->cluster.inter_bw_Gbps, inter->bw_GBps * 8.0);
    c->cluster.inter_lat_us = or_default(c->cluster.inter_lat_us, inter->lat_us);
    c->cluster.gemm_efficiency = or_default(c->cluster.gemm_efficiency, gpu->gemm_efficiency);
    c->cluster.mem_efficiency = or_default(c->cluster.mem_efficiency, gpu->mem_efficiency);
    /* link_efficiency stays NAN when unset: each link then keeps its preset's factor */

    /* network: topology and collectives (issue 3) */
    if (c->network.intra_topology[0] == '\0')
        snprintf(c->network.intra_topology, sizeof c->network.intra_topology, "%s",
                 gpu->topology);
    if (c->network.pcie[0] == '\0')
        snprintf(c->network.pcie, sizeof c->network.pcie, "%s", gpu->pcie);
    if (!hw_link_find(c->network.pcie))
        return fail(bad_key, err, "network.pcie", "unknown link preset (expected one of %s)",
                    hw_link_names);
    if (c->cluster.nics_per_node <= 0)   /* unset */
        c->cluster.nics_per_node = c->cluster.gpus_per_node;
    if (c->cluster.nics_per_node > c->cluster.gpus_per_node)
        return fail(bad_key, err, "cluster.nics_per_node",
                    "expected at most cluster.gpus_per_node = %d (got %d)",
                    c->cluster.gpus_per_node, c->cluster.nics_per_node);
    int is_nvswitch = strcmp(c->network.intra_topology, "nvswitch") == 0;
    if (c->network.nvlink_bridge && strcmp(c->network.intra_topology, "pcie") != 0)
        return fail(bad_key, err, "network.nvlink_bridge",
                    "expected only with network.intra_topology = pcie (got %s)",
                    c->network.intra_topology);
    if (strcmp(c->network.all_reduce, "nvls") == 0 && !(is_nvswitch && intra->nvls))
        return fail(bad_key, err, "network.all_reduce",
                    "nvls needs NVSwitch nodes whose switch reduces (nvlink4, nvlink5, "
                    "h800-nvlink; got %s over %s)",
                    c->network.intra_topology, c->cluster.intra);

    const int E = c->model.experts, H = c->model.heads;
    if (c->model.top_k > E)
        return fail(bad_key, err, "model.top_k", "expected at most model.experts = %d (got %d)",
                    E, c->model.top_k);
    /* architecture rules (issue 4) */
    int head_dim_given = c->model.head_dim > 0;
    if (strcmp(c->model.attention, "mla") == 0) {
        if (c->model.kv_lora_rank <= 0)
            return fail(bad_key, err, "model.kv_lora_rank",
                        "expected a rank > 0 with model.attention = mla (got %d)",
                        c->model.kv_lora_rank);
        if (c->model.qk_nope_dim + c->model.qk_rope_dim <= 0)
            return fail(bad_key, err, "model.qk_nope_dim",
                        "expected qk_nope_dim + qk_rope_dim > 0 with model.attention = mla");
        if (c->model.v_head_dim <= 0)
            return fail(bad_key, err, "model.v_head_dim",
                        "expected a dimension > 0 with model.attention = mla (got %d)",
                        c->model.v_head_dim);
    }
    if (c->model.dense_layers > c->model.layers)
        return fail(bad_key, err, "model.dense_layers",
                    "expected at most model.layers = %d (got %d)", c->model.layers,
                    c->model.dense_layers);
    if (c->model.dense_layers > 0 && c->model.ffn_dense <= 0)
        return fail(bad_key, err, "model.ffn_dense",
                    "expected a size > 0 with model.dense_layers = %d (got %d)",
                    c->model.dense_layers, c->model.ffn_dense);
    if (c->model.ffn_shared <= 0)
        c->model.ffn_shared = c->model.ffn_expert;
    if (strcmp(c->training.precision, "fp8") == 0 && !(gpu->fp8_tflops > 0))
        return fail(bad_key, err, "training.precision",
                    "expected bf16: %s has no fp8 tensor cores (got fp8)", gpu->name);
    if (!head_dim_given && c->model.hidden % H != 0)
        return fail(bad_key, err, "model.heads",
                    "expected a divisor of model.hidden = %d (got %d)", c->model.hidden, H);
    if (!head_dim_given)
        c->model.head_dim = c->model.hidden / H;
    /* end of architecture rules */
    if (c->model.kv_heads > H || H % c->model.kv_heads != 0)
        return fail(bad_key, err, "model.kv_heads",
                    "expected a divisor of model.heads = %d (got %d)", H, c->model.kv_heads);
    sim_status pst = resolve_parallel(c, bad_key, err);
    if (pst != SIM_OK)
        return pst;
    /* routing (issue 5): models, constraints and dynamics that fit together */
    const char *rm = c->routing.model;
    int counts_given = strcmp(rm, "trace") == 0 || strcmp(rm, "expert_choice") == 0;
    if (strcmp(rm, "hot") == 0 && c->routing.hot_experts >= E)
        return fail(bad_key, err, "routing.hot_experts",
                    "expected fewer than model.experts = %d (got %d)", E,
                    c->routing.hot_experts);
    if (strcmp(rm, "trace") == 0 && c->routing.trace[0] == '\0')
        return fail(bad_key, err, "routing.model",
                    "trace needs routing.trace, the path of a trace CSV");
    if (c->routing.node_limit > 0 && c->routing.group_nodes > 0)
        return fail(bad_key, err, "routing.group_nodes",
                    "expected 0 when routing.node_limit is set (one node constraint at a time)");
    if (counts_given && (c->routing.node_limit > 0 || c->routing.group_nodes > 0))
        return fail(bad_key, err,
                    c->routing.node_limit > 0 ? "routing.node_limit" : "routing.group_nodes",
                    "expected 0 with routing.model = %s (its counts are given, not drawn)", rm);
    if (counts_given && strcmp(c->routing.dynamics, "none") != 0)
        return fail(bad_key, err, "routing.dynamics",
                    "expected none with routing.model = %s (got %s)", rm, c->routing.dynamics);
    if (c->routing.node_limit > 0 || c->routing.group_nodes > 0) {
        const char *key = c->routing.node_limit > 0 ? "routing.node_limit" : "routing.group_nodes";
        par_layout pl;
        par_layout_of(c, &pl);
        int nodes = par_ep_nodes(&pl, c->cluster.gpus_per_node, NULL);
        if (nodes < 0)
            return fail(bad_key, err, key,
                        "needs EP groups spread evenly over at most 64 nodes: the %d GPUs of an "
                        "EP group are not (parallel.ep, parallel.order)", c->parallel.ep);
        int per_node = E / nodes, m = c->routing.node_limit;
        if (m == 0) {
            m = c->routing.group_nodes;
            if (nodes % m != 0)
                return fail(bad_key, err, key,
                            "expected a divisor of the %d nodes of an EP group (got %d)", nodes,
                            m);
        }
        if (m > nodes)
            m = nodes;
        if ((int64_t)m * per_node < c->model.top_k)
            return fail(bad_key, err, key,
                        "%d node(s) hold %d experts, fewer than model.top_k = %d", m,
                        m * per_node, c->model.top_k);
    }
    return SIM_OK;
}
