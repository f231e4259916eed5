/* tests/simgrid/sgcase.cpp: the SimGrid side of the comparison (tests/simgrid/README.md).
 * Reads a case written by `mcase gen` and simulates it with SimGrid's S4U API: one host per
 * case host, one SimGrid link per case link (shared, one direction), and for each flow a
 * route from its source to its destination over its links; a flow with extra latency gets
 * a private link of that latency in front (1e15 B/s: it never binds). One actor per source
 * host and start time sleeps until then, starts its flows (Comm::sendto_async) and waits
 * for them all; each flow's end is its comm's finish time. Prints "flow end_s".
 * Run with --cfg=network/model:CM02 (latency and bandwidth factors 1, weight-S 0),
 * --cfg=network/crosstraffic:0 and a TCP-gamma too large to bound any rate. */
#include <simgrid/s4u.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace sg4 = simgrid::s4u;

struct Flow {
    int src, dst;
    double start, bytes, extra;
    std::vector<int> links;
};

int main(int argc, char** argv)
{
    sg4::Engine engine(&argc, argv);
    if (argc != 2) {
        std::fprintf(stderr, "usage: sgcase FILE [--cfg=...]\n");
        return 2;
    }
    auto t0 = std::chrono::steady_clock::now();
    std::ifstream in(argv[1]);
    int n_hosts = 0;
    std::vector<std::pair<double, double>> links;
    std::vector<Flow> flows;
    char kind;
    while (in >> kind) {
        if (kind == 'H') {
            in >> n_hosts;
        } else if (kind == 'L') {
            double bw, lat;
            in >> bw >> lat;
            links.emplace_back(bw, lat);
        } else if (kind == 'F') {
            Flow f;
            int k;
            in >> f.src >> f.dst >> f.start >> f.bytes >> f.extra >> k;
            f.links.resize(k);
            for (int& l : f.links)
                in >> l;
            flows.push_back(f);
        } else {
            std::fprintf(stderr, "sgcase: bad record '%c'\n", kind);
            return 1;
        }
    }
    auto* zone = sg4::create_full_zone("world");
    std::vector<sg4::Host*> hosts;
    for (int h = 0; h < n_hosts; h++)
        hosts.push_back(zone->create_host("h" + std::to_string(h), 1e9)->seal());
    std::vector<sg4::Link*> sl;
    for (size_t l = 0; l < links.size(); l++)
        sl.push_back(zone->create_link("l" + std::to_string(l), links[l].first)
                         ->set_latency(links[l].second)
                         ->seal());
    std::map<std::pair<int, int>, bool> routed;
    for (size_t i = 0; i < flows.size(); i++) {
        const Flow& f = flows[i];
        if (routed.count({f.src, f.dst}))
            continue;   /* one route per host pair: cases give a pair one path */
        routed[{f.src, f.dst}] = true;
        std::vector<sg4::LinkInRoute> route;
        if (f.extra > 0)
            route.emplace_back(zone->create_link("x" + std::to_string(i), 1e15)
                                   ->set_latency(f.extra)
                                   ->seal());
        for (int l : f.links)
            route.emplace_back(sl[l]);
        zone->add_route(hosts[f.src]->get_netpoint(), hosts[f.dst]->get_netpoint(), nullptr,
                        nullptr, route, false);
    }
    zone->seal();
    std::vector<double> end(flows.size(), -1);
    std::map<std::pair<int, double>, std::vector<size_t>> groups;   /* (source, start) */
    for (size_t i = 0; i < flows.size(); i++)
        groups[{flows[i].src, flows[i].start}].push_back(i);
    for (auto const& g : groups) {
        std::vector<size_t> ids = g.second;
        double start = g.first.second;
        sg4::Actor::create("a", hosts[g.first.first], [ids, start, &flows, &hosts, &end] {
            if (start > 0)
                sg4::this_actor::sleep_until(start);
            std::vector<sg4::CommPtr> comms;
            for (size_t i : ids)
                comms.push_back(sg4::Comm::sendto_async(hosts[flows[i].src], hosts[flows[i].dst],
                                                        (uint64_t)flows[i].bytes));
            sg4::Comm::wait_all(comms);
            for (size_t k = 0; k < ids.size(); k++)
                end[ids[k]] = comms[k]->get_finish_time();
        });
    }
    auto t1 = std::chrono::steady_clock::now();
    engine.run();
    auto t2 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < flows.size(); i++)
        std::printf("%zu %.12e\n", i, end[i]);
    std::fprintf(stderr, "simgrid: %zu flows, read and build %.3f s, simulate %.3f s\n",
                 flows.size(), std::chrono::duration<double>(t1 - t0).count(),
                 std::chrono::duration<double>(t2 - t1).count());
    return 0;
}
