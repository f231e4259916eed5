/* tests/test_place.c: expert placement (contiguous, round-robin) and EPLB-style
 * replication with token splits; the step builder reading the slot table. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "models/place.h"
#include "models/route.h"
#include "sim/alloc.h"

/* 4 GPUs, 8 experts: contiguous puts experts 0,1 on rank 0, 2,3 on rank 1...;
 * round-robin puts 0,4 on rank 0, 1,5 on rank 1... */
static void test_home_layouts(void **state)
{
    (void)state;
    int slots[8];
    assert_int_equal(place_plan(PLACE_CONTIGUOUS, 4, 8, 0, NULL, slots), SIM_OK);
    const int contiguous[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    assert_memory_equal(slots, contiguous, sizeof slots);
    assert_int_equal(place_plan(PLACE_ROUND_ROBIN, 4, 8, 0, NULL, slots), SIM_OK);
    const int rr[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    assert_memory_equal(slots, rr, sizeof slots);
    for (int e = 0; e < 8; e++) {
        assert_int_equal(place_home_rank(PLACE_CONTIGUOUS, 4, 8, e), e / 2);
        assert_int_equal(place_home_rank(PLACE_ROUND_ROBIN, 4, 8, e), e % 4);
    }
    place_policy p;
    assert_int_equal(place_policy_find("round_robin", &p), 0);
    assert_int_equal(p, PLACE_ROUND_ROBIN);
    assert_int_equal(place_policy_find("striped", &p), -1);
}

/* Replication by hand: 4 GPUs, 4 experts (one each), 1 spare slot per GPU, loads
 * 700, 100, 100, 100. Greedy replica counts: expert 0 has the highest load per replica
 * three times (700 -> 350 -> 233 -> 175 with 4 copies, one per GPU, the most allowed);
 * the 4th extra goes to expert 1 (100, lowest of the tied experts 1-3). Per-replica
 * loads 175 (x4) and 50 (x2), so the GPU loads before packing are 175, 50, 100, 100.
 * Packing, heaviest first: expert 0's replicas go to the least loaded GPUs not holding
 * it: rank 1 (50 -> 225), rank 2 (100 -> 275), rank 3 (100 -> 275); expert 1's replica
 * to rank 0, the only one with a free spare slot. Slots (home, spare) per GPU:
 * (0,1) (1,0) (2,0) (3,0). */
static void test_replication_hand_case(void **state)
{
    (void)state;
    double loads[4] = {700, 100, 100, 100};
    int slots[8];
    assert_int_equal(place_n_slots(4, 4, 1), 8);
    assert_int_equal(place_plan(PLACE_CONTIGUOUS, 4, 4, 1, loads, slots), SIM_OK);
    const int want[8] = {0, 1, 1, 0, 2, 0, 3, 0};
    assert_memory_equal(slots, want, sizeof slots);
    /* split, source 0: 7 tokens for expert 0 over its copies in slots 0, 3, 5, 7 are
     * 2+2+2+1 (remainder 3 to the first three); 1 token for expert 1 over slots 1, 2 is
     * 1+0 */
    int64_t counts[4] = {7, 1, 0, 0}, out[8];
    int scratch[8 + 4 + 1];
    place_split(4, 8, slots, 1, counts, out, scratch);
    const int64_t split[8] = {2, 1, 0, 2, 0, 2, 0, 1};
    assert_memory_equal(out, split, sizeof out);
}

/* The packing puts the heaviest replica on the least loaded GPU: 2 GPUs x 2 experts, 1
 * spare each; loads 600, 300 (rank 0) and 200, 100 (rank 1). Replica counts: 600 -> 300
 * (expert 0 twice); then expert 0 at 300 vs expert 1 at 300: ties go to the lower
 * expert... expert 0 may have at most 2 copies (2 GPUs), so expert 1 gets the second.
 * Per-replica loads: 300, 150. GPU loads before packing: rank 0 = 300 + 150 = 450,
 * rank 1 = 300. Expert 0's replica (300) cannot go on rank 0 (it holds 0) -> rank 1;
 * expert 1's replica (150) cannot go on rank 0 either (it holds 1) -> rank 1 has no room
 * left -> dropped. Result: rank 1's spare = expert 0, rank 0's spare empty. */
static void test_packing(void **state)
{
    (void)state;
    double loads[4] = {600, 300, 200, 100};
    int slots[6];
    assert_int_equal(place_plan(PLACE_CONTIGUOUS, 2, 4, 1, loads, slots), SIM_OK);
    const int want[6] = {0, 1, -1, 2, 3, 0};
    assert_memory_equal(slots, want, sizeof slots);
}

/* Idle experts get no replicas: all loads 0 leaves every spare slot empty. */
static void test_no_replica_for_idle(void **state)
{
    (void)state;
    double loads[4] = {0, 0, 0, 0};
    int slots[8];
    assert_int_equal(place_plan(PLACE_ROUND_ROBIN, 2, 4, 2, loads, slots), SIM_OK);
    const int want[8] = {0, 2, -1, -1, 1, 3, -1, -1};
    assert_memory_equal(slots, want, sizeof slots);
}

/* Splits conserve every source's count of every expert, and rotate the remainder with
 * the source: 3 sources each send 5 to an expert with 2 replicas -> 3+2, 2+3, 3+2. */
static void test_split_conserves_and_rotates(void **state)
{
    (void)state;
    int slots[4] = {0, 1, 1, -1};     /* 2 GPUs x 2 slots: expert 1 twice */
    int64_t counts[3 * 2] = {4, 5, 4, 5, 4, 5}, out[3 * 4];
    int scratch[4 + 2 + 1];
    place_split(2, 4, slots, 3, counts, out, scratch);
    const int64_t want[12] = {4, 3, 2, 0, 4, 2, 3, 0, 4, 3, 2, 0};
    assert_memory_equal(out, want, sizeof out);
}

/* Allocation failures are reported. */
static void test_out_of_memory(void **state)
{
    (void)state;
    double loads[4] = {1, 2, 3, 4};
    int slots[8];
    sim_alloc_fail_after(0);
    assert_int_equal(place_plan(PLACE_CONTIGUOUS, 4, 4, 1, loads, slots), SIM_ENOMEM);
    sim_alloc_fail_after(-1);
}

/* route_slots / route_slot_row: without a slot table they read the expert counts. */
static void test_slot_accessors(void **state)
{
    (void)state;
    int64_t counts[2 * 2] = {1, 2, 3, 4}, dropped[4] = {0};
    route_result r = {.n_layers = 1, .n_gpus = 2, .n_experts = 2, .ep = 2, .counts = counts,
                      .dropped = dropped};
    assert_int_equal(route_slots(&r), 2);
    assert_int_equal(route_slot_row(&r, 0, 1)[0], 3);
    int slot_expert[4] = {0, 1, 1, 0};
    int64_t slot_counts[2 * 4] = {1, 1, 1, 0, 3, 2, 2, 0};
    r.n_slots = 4;
    r.slot_expert = slot_expert;
    r.slot_counts = slot_counts;
    assert_int_equal(route_slots(&r), 4);
    assert_int_equal(route_slot_row(&r, 0, 1)[1], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_home_layouts),
        cmocka_unit_test(test_replication_hand_case),
        cmocka_unit_test(test_packing),
        cmocka_unit_test(test_no_replica_for_idle),
        cmocka_unit_test(test_split_conserves_and_rotates),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_slot_accessors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
