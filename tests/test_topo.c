/* tests/test_topo.c: topology shapes (NVSwitch, PCIe with bridges, mesh; rail and shared
 * NICs; oversubscribed leaf-spine), full duplex, preset tables and their sources. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "models/hw.h"
#include "models/scenario.h"
#include "models/topo.h"
#include "sim/alloc.h"
#include "sim/cfg.h"
#include "sim/engine.h"

/* A resolved scenario from defaults plus overrides (NULL-terminated). */
static void config(scn_config *c, const char **sets)
{
    size_t n = 0;
    while (sets[n])
        n++;
    sim_err err = {0};
    if (sim_cfg_load_string(scn_keys, scn_n_keys, c, "t", "[parallel]\nep = 1\n", sets, n, &err) ||
        scn_resolve(c, NULL, &err))
        fail_msg("%s", err.msg);
}

static int path(const topo *t, int a, int b, sim_id *p) { return topo_path(t, a, b, p); }

/* H100 node: GPU a -> b inside the node is [up(a), down(b)]; b -> a uses the two other
 * links (full duplex). Between nodes with NDR (47 GB/s after 0.94) and PCIe Gen5
 * (50.4 GB/s after 0.8): the PCIe hop cannot bind and is left out: [NIC up, NIC down],
 * each of 400e9 / 8 x 0.94 bytes/s. */
static void test_nvswitch_and_rails(void **state)
{
    (void)state;
    scn_config c;
    config(&c, (const char *[]){"cluster.nodes=2", NULL});
    sim_engine *e = NULL;
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    topo t;
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    sim_id p[TOPO_MAX_PATH], q[TOPO_MAX_PATH];
    assert_int_equal(path(&t, 0, 3, p), 2);
    assert_int_equal(path(&t, 3, 0, q), 2);
    assert_true(p[0] == t.gpu_up[0] && p[1] == t.gpu_down[3]);
    assert_true(q[0] != p[0] && q[0] != p[1] && q[1] != p[0] && q[1] != p[1]);
    assert_true(sim_engine_link_bw(e, p[0]) == 450e9 * 0.82);
    assert_int_equal(path(&t, 2, 13, p), 2);   /* GPU 2 -> GPU 13 = node 1, local 5 */
    assert_true(p[0] == t.nic_up[2] && p[1] == t.nic_down[8 + 5]);
    assert_true(sim_engine_link_bw(e, p[0]) == 400e9 / 8 * 0.94);
    topo_fini(&t);
    sim_engine_free(e);
}

/* A100 (PCIe Gen4: 31.5 x 0.8 = 25.2 GB/s) with NDR (47 GB/s): the PCIe link is the
 * slower one and sits on the path: [pcie up, NIC up, NIC down, pcie down]. */
static void test_pcie_hop_binds_when_slower(void **state)
{
    (void)state;
    scn_config c;
    config(&c, (const char *[]){"cluster.gpu=a100-sxm", "cluster.nodes=2", NULL});
    sim_engine *e = NULL;
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    topo t;
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    sim_id p[TOPO_MAX_PATH];
    assert_int_equal(path(&t, 0, 8, p), 4);
    assert_true(sim_engine_link_bw(e, p[0]) == 31.5e9 * 0.8);
    assert_true(p[1] == t.nic_up[0] && p[3] == t.pcie_down[8]);
    topo_fini(&t);
    sim_engine_free(e);
}

/* Shared NICs: 2 NICs for 8 GPUs: GPUs 0-3 use NIC 0, 4-7 NIC 1. */
static void test_shared_nics(void **state)
{
    (void)state;
    scn_config c;
    config(&c, (const char *[]){"cluster.nodes=2", "cluster.nics_per_node=2", NULL});
    sim_engine *e = NULL;
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    topo t;
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    sim_id p[TOPO_MAX_PATH], q[TOPO_MAX_PATH];
    path(&t, 3, 8, p);
    path(&t, 0, 9, q);
    assert_true(p[0] == q[0] && p[0] == t.nic_up[0]);
    path(&t, 4, 8, q);
    assert_true(q[0] == t.nic_up[1]);
    topo_fini(&t);
    sim_engine_free(e);
}

/* 64 nodes, 32 per leaf, rail-optimized, 2:1: leaves (group, rail) = 2 x 8. GPU 0 (node 0,
 * rail 0) -> GPU 8 (node 1, rail 0): same leaf, no spine: 2 links. GPU 0 -> node 40 rail 0:
 * [NIC up, leaf up, leaf down, NIC down], the leaf links of 32 NICs x 47 GB/s / 2. Rail 0
 * -> rail 1 in the same group crosses the spine too. Without oversubscription the leaf
 * links cannot bind and are left out. */
static void test_leaf_spine_oversubscribed(void **state)
{
    (void)state;
    scn_config c;
    config(&c, (const char *[]){"cluster.nodes=64", "cluster.oversubscription=2", NULL});
    sim_engine *e = NULL;
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    topo t;
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    assert_int_equal(t.n_leaves, 16);
    sim_id p[TOPO_MAX_PATH];
    assert_int_equal(path(&t, 0, 8, p), 2);
    assert_int_equal(path(&t, 0, 40 * 8, p), 4);
    assert_true(p[1] == t.leaf_up[0] && p[2] == t.leaf_down[8]);
    assert_true(fabs(sim_engine_link_bw(e, p[1]) - 32 * 47e9 / 2) < 1);
    assert_int_equal(path(&t, 0, 8 + 1, p), 4);
    topo_fini(&t);
    sim_engine_free(e);
    config(&c, (const char *[]){"cluster.nodes=64", NULL});
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    assert_int_equal(path(&t, 0, 40 * 8, p), 2);
    topo_fini(&t);
    sim_engine_free(e);
}

/* PCIe nodes with NVLink bridges (4 GPUs: PCIe switches {0, 1} and {2, 3}): 0 <-> 1 over
 * the bridge alone (300 x 0.82 GB/s); 0 -> 2 through both switches and the CPU: [x16
 * up(0), switch 0 uplink, switch 1 downlink, x16 down(2)], every PCIe link 63 x 0.8 GB/s.
 * Without bridges 0 -> 1 stays under its switch: [x16 up(0), x16 down(1)]. The bridge
 * follows cluster.intra_bw_GBps once cluster.intra = nvlink-bridge (150 x 0.82 GB/s), the
 * PCIe links then network.pcie (pcie4: 31.5 x 0.8). Between nodes GPU 3 reaches NIC 3,
 * under its own switch: [x16 up(3), NIC up, NIC down, x16 down]; with 2 NICs per node
 * GPU 3 uses NIC 1, under switch 1 (that of GPU 2): no uplink either; with 1 NIC, under
 * switch 0, GPU 3 crosses switch 1's uplink and switch 0's downlink. MI300X mesh: one
 * direct link. */
static void test_pcie_bridge_and_mesh(void **state)
{
    (void)state;
    scn_config c;
    config(&c, (const char *[]){"cluster.gpu=h100-pcie", "cluster.gpus_per_node=4",
                                "network.nvlink_bridge=true", NULL});
    sim_engine *e = NULL;
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    topo t;
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    assert_int_equal(t.kind, TOPO_PCIE);
    sim_id p[TOPO_MAX_PATH];
    assert_int_equal(path(&t, 0, 1, p), 1);
    assert_true(fabs(sim_engine_link_bw(e, p[0]) - 300e9 * 0.82) < 1);
    assert_int_equal(t.switches_per_node, 2);
    assert_int_equal(path(&t, 0, 2, p), 4);
    assert_true(p[0] == t.gpu_up[0] && p[1] == t.sw_up[0] && p[2] == t.sw_down[1] &&
                p[3] == t.gpu_down[2]);
    for (int h = 0; h < 4; h++)
        assert_true(fabs(sim_engine_link_bw(e, p[h]) - 63e9 * 0.8) < 1);
    char buf[64];
    topo_link_name(&t, t.sw_down[1], buf, sizeof buf);
    assert_string_equal(buf, "node 0 PCIe switch 1 downlink");
    topo_fini(&t);
    sim_engine_free(e);

    config(&c, (const char *[]){"cluster.gpu=h100-pcie", "cluster.gpus_per_node=4", NULL});
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    assert_int_equal(path(&t, 0, 1, p), 2);
    assert_true(p[0] == t.gpu_up[0] && p[1] == t.gpu_down[1]);
    topo_fini(&t);
    sim_engine_free(e);

    config(&c, (const char *[]){"cluster.gpu=h100-pcie", "cluster.gpus_per_node=4",
                                "network.nvlink_bridge=true", "cluster.intra=nvlink-bridge",
                                "cluster.intra_bw_GBps=150", "network.pcie=pcie4", NULL});
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    assert_int_equal(path(&t, 0, 1, p), 1);
    assert_true(fabs(sim_engine_link_bw(e, p[0]) - 150e9 * 0.82) < 1);
    assert_int_equal(path(&t, 0, 2, p), 4);
    assert_true(fabs(sim_engine_link_bw(e, p[1]) - 31.5e9 * 0.8) < 1);
    topo_fini(&t);
    sim_engine_free(e);

    const char *nics[] = {"4", "2", "1"};
    for (int k = 0; k < 3; k++) {
        char set[64];
        snprintf(set, sizeof set, "cluster.nics_per_node=%s", nics[k]);
        config(&c, (const char *[]){"cluster.gpu=h100-pcie", "cluster.gpus_per_node=4",
                                    "cluster.nodes=2", set, NULL});
        assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
        assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
        int np = path(&t, 3, 4, p);
        assert_true(p[0] == t.gpu_up[3]);
        if (k < 2) {
            assert_int_equal(np, 4);
        } else {
            assert_int_equal(np, 6);   /* GPU 4 is under NIC 0's switch: no hop there */
            assert_true(p[1] == t.sw_up[1] && p[2] == t.sw_down[0]);
        }
        topo_fini(&t);
        sim_engine_free(e);
    }

    config(&c, (const char *[]){"cluster.gpu=mi300x", NULL});
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    assert_int_equal(t.kind, TOPO_MESH);
    sim_id q[TOPO_MAX_PATH];
    assert_int_equal(path(&t, 1, 6, p), 1);
    assert_int_equal(path(&t, 6, 1, q), 1);
    assert_true(p[0] != q[0]);
    assert_true(fabs(sim_engine_link_bw(e, p[0]) - 64e9 * 0.8) < 1);
    topo_fini(&t);
    sim_engine_free(e);
}

/* Every preset named in the issue exists, implies a known intra-node link, and carries
 * a source; the datasheet dense figures (H100 SXM bf16 989 TFLOP/s, not 1979). */
static void test_presets(void **state)
{
    (void)state;
    const char *gpus[] = {"a100-sxm", "h100-sxm", "h800", "h200", "b200", "mi300x", "rtx4090"};
    const char *links[] = {"nvlink3", "nvlink4", "nvlink5", "h800-nvlink", "pcie4", "pcie5",
                           "hdr200", "ndr400", "xdr800", "roce400", "eth100"};
    for (size_t i = 0; i < sizeof gpus / sizeof gpus[0]; i++) {
        const hw_gpu *g = hw_gpu_find(gpus[i]);
        assert_non_null(g);
        assert_non_null(hw_link_find(g->intra));
        assert_non_null(hw_link_find(g->pcie));
        assert_true(g->bf16_tflops > 0 && g->hbm_GB > 0 && g->hbm_GBps > 0 && g->n_sm > 0);
        assert_true(strlen(g->source) > 10);
    }
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        const hw_link *l = hw_link_find(links[i]);
        assert_non_null(l);
        assert_true(l->bw_GBps > 0 && l->efficiency > 0 && l->efficiency <= 1);
        assert_true(strlen(l->source) > 10);
    }
    assert_true(hw_gpu_find("h100-sxm")->bf16_tflops == 989.0);
    assert_string_equal(hw_gpu_find("h100-sxm")->intra, "nvlink4");
    assert_string_equal(hw_gpu_find("h800")->intra, "h800-nvlink");
    assert_true(hw_link_find("ndr400")->bw_GBps == 50.0);   /* 400 Gb/s */
    assert_null(hw_gpu_find("v100"));
}

/* Scenario rules: NVLS needs an NVSwitch that reduces; more NICs than GPUs is an error. */
static void test_resolve_rules(void **state)
{
    (void)state;
    scn_config c;
    sim_err err = {0};
    const char *a[] = {"cluster.gpu=a100-sxm", "network.all_reduce=nvls"};
    assert_int_equal(sim_cfg_load_string(scn_keys, scn_n_keys, &c, "t", "[parallel]\nep = 1\n", a,
                                         2, &err), SIM_OK);
    assert_int_equal(scn_resolve(&c, NULL, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "network.all_reduce: nvls needs NVSwitch"));
    const char *b[] = {"cluster.nics_per_node=9"};
    assert_int_equal(sim_cfg_load_string(scn_keys, scn_n_keys, &c, "t", "[parallel]\nep = 1\n", b,
                                         1, &err), SIM_OK);
    assert_int_equal(scn_resolve(&c, NULL, &err), SIM_EINPUT);
    assert_non_null(strstr(err.msg, "cluster.nics_per_node: expected at most"));
}

/* Link names: every link of a topology has one, distinct from the others. H100, 2 nodes:
 * GPU 3's switch port, GPU 13 (node 1, local 5) NIC down; 64 nodes 2:1 oversubscribed:
 * leaf 8's downlink; a PCIe node's x16 links and bridges; a mesh link. A link the topology
 * did not create: "link N", -1. */
static void check_names_distinct(const topo *t)
{
    char a[64], b[64];
    for (int i = 0; i < t->n_links; i++) {
        assert_true(topo_link_name(t, t->link0 + i, a, sizeof a) > 0);
        for (int j = i + 1; j < t->n_links && j < i + 40; j++) {
            topo_link_name(t, t->link0 + j, b, sizeof b);
            assert_string_not_equal(a, b);
        }
    }
}

static void test_link_names(void **state)
{
    (void)state;
    scn_config c;
    char buf[64];
    config(&c, (const char *[]){"cluster.nodes=2", NULL});
    sim_engine *e = NULL;
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    sim_id other = sim_engine_add_link(e, 1e9, 0);   /* not the topology's */
    topo t;
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    topo_link_name(&t, t.gpu_up[3], buf, sizeof buf);
    assert_string_equal(buf, "node 0 GPU 3 NVSwitch up");
    topo_link_name(&t, t.gpu_down[13], buf, sizeof buf);
    assert_string_equal(buf, "node 1 GPU 5 NVSwitch down");
    topo_link_name(&t, t.nic_down[8 + 5], buf, sizeof buf);
    assert_string_equal(buf, "node 1 NIC 5 down");
    assert_int_equal(topo_link_name(&t, other, buf, sizeof buf), -1);
    assert_string_equal(buf, "link 0");
    assert_int_equal(topo_link_name(&t, t.nic_up[2], buf, 5), (int)strlen("node 0 NIC 2 up"));
    assert_string_equal(buf, "node");   /* truncated as snprintf does */
    check_names_distinct(&t);
    topo_fini(&t);
    sim_engine_free(e);

    config(&c, (const char *[]){"cluster.nodes=64", "cluster.oversubscription=2", NULL});
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    topo_link_name(&t, t.leaf_down[8], buf, sizeof buf);
    assert_string_equal(buf, "leaf 8 downlink");
    topo_link_name(&t, t.leaf_up[15], buf, sizeof buf);
    assert_string_equal(buf, "leaf 15 uplink");
    check_names_distinct(&t);
    topo_fini(&t);
    sim_engine_free(e);

    config(&c, (const char *[]){"cluster.gpu=a100-sxm", "cluster.nodes=2", NULL});
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    topo_link_name(&t, t.pcie_up[9], buf, sizeof buf);
    assert_string_equal(buf, "node 1 GPU 1 PCIe to NIC up");
    topo_fini(&t);
    sim_engine_free(e);

    config(&c, (const char *[]){"cluster.gpu=h100-pcie", "cluster.gpus_per_node=4",
                                "network.nvlink_bridge=true", NULL});
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    topo_link_name(&t, t.bridge[3], buf, sizeof buf);
    assert_string_equal(buf, "node 0 GPU 3 NVLink bridge to GPU 2");
    check_names_distinct(&t);
    topo_fini(&t);
    sim_engine_free(e);

    config(&c, (const char *[]){"cluster.gpu=mi300x", NULL});
    assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
    assert_int_equal(topo_build(&c, e, &t, NULL), SIM_OK);
    topo_link_name(&t, t.mesh[6 * 8 + 1], buf, sizeof buf);
    assert_string_equal(buf, "node 0 GPU 6 mesh to GPU 1");
    check_names_distinct(&t);
    topo_fini(&t);
    sim_engine_free(e);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    scn_config c;
    config(&c, (const char *[]){"cluster.nodes=4", "cluster.oversubscription=2",
                                "network.nodes_per_leaf=2", NULL});
    int ok = 0;
    for (long k = 0; k < 200 && !ok; k++) {
        sim_engine *e = NULL;
        assert_int_equal(sim_engine_new(NULL, &e, NULL), SIM_OK);
        topo t;
        sim_alloc_fail_after(k);
        sim_status st = topo_build(&c, e, &t, NULL);
        sim_alloc_fail_after(-1);
        assert_true(st == SIM_OK || st == SIM_ENOMEM);
        ok = st == SIM_OK;
        topo_fini(&t);
        sim_engine_free(e);
    }
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nvswitch_and_rails),
        cmocka_unit_test(test_pcie_hop_binds_when_slower),
        cmocka_unit_test(test_shared_nics),
        cmocka_unit_test(test_leaf_spine_oversubscribed),
        cmocka_unit_test(test_pcie_bridge_and_mesh),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_resolve_rules),
        cmocka_unit_test(test_link_names),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
