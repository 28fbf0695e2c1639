// The bench result for people (a table), programs (JSON) and a chart (SVG).
#include "bench_command.hpp"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>

namespace salvo::cli {
namespace {

double per_second(double n, double seconds) {
    return seconds > 0 ? n / seconds : 0;
}

// A JSON string, control characters escaped (not dropped).
std::string json_string(const std::string& s) {
    return boost::json::serialize(boost::json::string_view(s));
}

// Accepted rows per second between consecutive samples.
std::vector<std::pair<double, double>> rates(const std::vector<bench_sample>& samples) {
    std::vector<std::pair<double, double>> out;
    double t = 0;
    std::uint64_t n = 0;
    for (const auto& s : samples) {
        const double dt = s.seconds - t;
        if (dt <= 0) continue;
        out.emplace_back(s.seconds, static_cast<double>(s.accepted - std::min(n, s.accepted)) / dt);
        t = s.seconds;
        n = s.accepted;
    }
    return out;
}

}  // namespace

std::string bench_result::to_table() const {
    const char* unit = merge == "server" ? "rows" : "emails";
    std::string out;
    out += fmt::format("salvo bench: merge {}, {} threads, {} in flight, {} messages/request{}\n",
                       merge, threads, max_in_flight, messages_per_request,
                       merge == "server"
                           ? fmt::format(", {} recipients/message", recipients_per_message)
                           : std::string());
    out += fmt::format("endpoint            {}\n", endpoint);
    out += fmt::format("status              {}\n", status);
    out += fmt::format("rows                {} read, {} accepted, {} not accepted\n", rows,
                       accepted, not_accepted);
    out += fmt::format("duration            {:.3f} s\n", seconds);
    out += fmt::format("throughput          {:.0f} {}/s\n",
                       per_second(static_cast<double>(accepted), seconds), unit);
    out += fmt::format("requests            {} ({} retries), {:.0f} requests/s\n", requests,
                       retries, per_second(static_cast<double>(requests), seconds));
    out += fmt::format(
        "wire                {:.1f} MB/s out, {:.2f} MB/s in{}\n",
        per_second(static_cast<double>(bytes_out) / 1e6, seconds),
        per_second(static_cast<double>(bytes_in) / 1e6, seconds),
        message_bytes > 0 ? fmt::format(" (~{} B per message)", message_bytes) : std::string());
    out += fmt::format("latency             p50 {:.2f} ms, p90 {:.2f} ms, p99 {:.2f} ms\n",
                       latency_p50_ms, latency_p90_ms, latency_p99_ms);
    out += fmt::format("cpu (process)       {:.2f} s user, {:.2f} s sys ({:.2f} cores busy)\n",
                       cpu_user, cpu_sys, per_second(cpu_user + cpu_sys, seconds));
    for (const auto& s : split)
        out += fmt::format("  {:<50}{:.2f} s user, {:.2f} s sys\n", s.role, s.user, s.sys);
    out += fmt::format("  row generation (wall, inside the pipeline's input stage) {:.2f} s\n",
                       generate_seconds);
    out += fmt::format("peak RSS            {:.1f} MiB\n", peak_rss_mib);
    return out;
}

std::string bench_result::to_json() const {
    std::string out = "{";
    out += fmt::format(
        R"~("merge":{},"endpoint":{},"status":{},"threads":{},"max_in_flight":{},"messages_per_request":{},"recipients_per_message":{},)~",
        json_string(merge), json_string(endpoint), json_string(status), threads, max_in_flight,
        messages_per_request, recipients_per_message);
    out += fmt::format(
        R"~("rows":{},"accepted":{},"not_accepted":{},"seconds":{:.3f},"rows_per_second":{:.1f},"requests":{},"retries":{},"requests_per_second":{:.1f},)~",
        rows, accepted, not_accepted, seconds, per_second(static_cast<double>(accepted), seconds),
        requests, retries, per_second(static_cast<double>(requests), seconds));
    out += fmt::format(
        R"~("bytes_out":{},"bytes_in":{},"mb_per_second_out":{:.2f},"latency_ms":{{"p50":{:.3f},"p90":{:.3f},"p99":{:.3f}}},)~",
        bytes_out, bytes_in, per_second(static_cast<double>(bytes_out) / 1e6, seconds),
        latency_p50_ms, latency_p90_ms, latency_p99_ms);
    out += fmt::format(
        R"~("cpu_user_seconds":{:.3f},"cpu_sys_seconds":{:.3f},"peak_rss_mib":{:.1f},)~", cpu_user,
        cpu_sys, peak_rss_mib);
    out += fmt::format(R"~("generate_seconds":{:.3f},"cpu_split":[)~", generate_seconds);
    for (std::size_t i = 0; i < split.size(); ++i)
        out += fmt::format(R"~({}{{"role":{},"user":{:.3f},"sys":{:.3f}}})~", i ? "," : "",
                           json_string(split[i].role), split[i].user, split[i].sys);
    out += R"~(],"samples":[)~";
    for (std::size_t i = 0; i < samples.size(); ++i)
        out += fmt::format("{}[{:.3f},{},{}]", i ? "," : "", samples[i].seconds,
                           samples[i].accepted, samples[i].in_flight);
    return out + "]}";
}

std::string bench_result::to_svg() const {
    constexpr double width = 720, height = 360, left = 80, right = 20, top = 40, bottom = 50;
    const auto points = rates(samples);
    double max_t = seconds, max_r = 1;
    for (const auto& [t, r] : points) {
        max_t = std::max(max_t, t);
        max_r = std::max(max_r, r);
    }
    max_t = std::max(max_t, 0.001);
    // A round top for the y axis: 1, 2 or 5 times a power of ten.
    const double mag = std::pow(10.0, std::floor(std::log10(max_r)));
    double top_r = mag;
    for (const double m : {1.0, 2.0, 5.0, 10.0})
        if (m * mag >= max_r) {
            top_r = m * mag;
            break;
        }
    const auto x = [&](double t) { return left + (width - left - right) * t / max_t; };
    const auto y = [&](double r) { return height - bottom - (height - top - bottom) * r / top_r; };
    const char* unit = merge == "server" ? "rows/s" : "emails/s";
    std::string out = fmt::format(
        R"~(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" font-family="sans-serif" font-size="12">)~"
        "\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        width, height);
    out += fmt::format(
        R"~(<text x="{}" y="22" font-size="14">salvo bench: merge {}, {:.0f} {} average over {:.1f} s</text>)~"
        "\n",
        left, merge, per_second(static_cast<double>(accepted), seconds), unit, seconds);
    for (int i = 0; i <= 5; ++i) {
        const double r = top_r * i / 5, t = max_t * i / 5;
        out += fmt::format(
            R"~(<line x1="{0}" y1="{1:.1f}" x2="{2}" y2="{1:.1f}" stroke="#ddd"/><text x="{3}" y="{4:.1f}" text-anchor="end">{5:.0f}</text>)~"
            "\n",
            left, y(r), width - right, left - 6, y(r) + 4, r);
        out += fmt::format(R"~(<text x="{:.1f}" y="{}" text-anchor="middle">{:.1f}</text>)~"
                           "\n",
                           x(t), height - bottom + 18, t);
    }
    out += fmt::format(
        R"~(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="black"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="black"/>)~"
        "\n",
        left, top, height - bottom, width - right);
    out += fmt::format(R"~(<text x="{}" y="{}" text-anchor="middle">seconds</text>)~"
                       "\n",
                       (left + width - right) / 2, height - 12);
    out += fmt::format(
        R"~(<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">{1}</text>)~"
        "\n",
        (top + height - bottom) / 2, unit);
    out += R"~(<polyline fill="none" stroke="#1f77b4" stroke-width="2" points=")~";
    for (const auto& [t, r] : points) out += fmt::format("{:.1f},{:.1f} ", x(t), y(r));
    out += "\"/>\n</svg>\n";
    return out;
}

}  // namespace salvo::cli
