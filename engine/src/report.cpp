// The end-of-job summary, for people (a table) and for programs (JSON).
#include <salvo/engine/job.hpp>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

namespace salvo::engine {

std::string report::to_json() const {
    std::string out = fmt::format(R"({{"status":"{}")", engine::to_string(status));
    if (!stop_detail.empty()) {
        // The detail is ours (codes and plain words), but may quote a
        // server: every byte kept, control characters escaped.
        out += R"(,"stop_detail":)" + boost::json::serialize(boost::json::string_view(stop_detail));
    }
    out += fmt::format(R"(,"rows_read":{})", rows_read);
    for (std::size_t i = 0; i < fate_count; ++i)
        out += fmt::format(R"(,"{}":{})", engine::to_string(static_cast<fate>(i)), fates[i]);
    out += fmt::format(
        R"(,"pending":{},"ambiguous":{},"requests":{},"retries":{},"bytes_out":{},"bytes_in":{},"seconds":{:.3f},"emails_per_second":{:.1f}}})",
        pending, ambiguous, requests, retries, bytes_out, bytes_in, seconds, emails_per_second);
    return out;
}

std::string report::to_table() const {
    std::string out = fmt::format("status      {}\n", engine::to_string(status));
    if (!stop_detail.empty()) out += fmt::format("reason      {}\n", stop_detail);
    out += fmt::format("rows read   {}\n", rows_read);
    for (std::size_t i = 0; i < fate_count; ++i)
        out += fmt::format("{:<12}{}\n", engine::to_string(static_cast<fate>(i)), fates[i]);
    out += fmt::format("pending     {}\nambiguous   {}\n", pending, ambiguous);
    out += fmt::format("requests    {} ({} retries)\n", requests, retries);
    out += fmt::format("bytes       {:.1f} MB out, {:.1f} MB in\n",
                       static_cast<double>(bytes_out) / 1e6, static_cast<double>(bytes_in) / 1e6);
    out += fmt::format("duration    {:.2f} s, {:.0f} emails/s\n", seconds, emails_per_second);
    return out;
}

}  // namespace salvo::engine
