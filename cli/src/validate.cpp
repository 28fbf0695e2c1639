// `salvo validate`: check a job, its templates and every row; send nothing.
#include "commands.hpp"

#include <salvo/engine/campaign.hpp>
#include <salvo/engine/validate.hpp>

#include <fmt/core.h>

namespace salvo::cli {

int run_validate(const std::filesystem::path& job_file, const std::vector<std::string>& sets) {
    // Rendering needs no key: a placeholder key, never sent anywhere.
    auto cfg = engine::load_job_file(job_file, sets);
    if (!cfg) {
        fmt::print(stderr, "salvo: {}\n", cfg.error().message);
        return exit_usage;
    }
    auto job = prepare_rendering(std::move(*cfg), "validate-only");
    if (!job) return exit_usage;

    fmt::print("job        {}\n", job_file.string());
    fmt::print("recipients {} ({} fields)\n", job->src->name(), job->src->fields().size());
    for (const auto& w : job->message.warnings) fmt::print("warning: {}\n", w.message);

    constexpr std::size_t shown = 10;
    std::vector<std::string> errors;
    std::uint64_t rows = 0, valid = 0, invalid = 0, duplicate = 0, suppressed_rows = 0;
    std::uint64_t other_shards = 0;  // with the job key shard: rows the other shards send
    engine::chunk c;
    std::string reason, body;
    const bool server = job->cfg.merge == engine::merge_mode::server;
    for (;;) {
        auto more = job->src->next_chunk(c);
        if (!more) {
            fmt::print(stderr, "salvo: {}\n", more.error().message);
            return exit_usage;
        }
        for (std::size_t i = 0; i < c.size(); ++i) {
            auto v = job->check->check(c, i, reason);
            if (!v) {
                fmt::print(stderr, "salvo: {}\n", v.error().message);
                return exit_usage;
            }
            if (*v == engine::validity::other_shard) {
                ++other_shards;
                continue;
            }
            ++rows;
            switch (*v) {
                case engine::validity::valid: {
                    // The row must also render: a template may refuse it.
                    const auto values = c.values(i);
                    const injection::recipient r = job->check->recipient_of(values, c.info(i).row);
                    body.clear();
                    const auto e = server ? job->writer->append_row(body, r, true)
                                          : job->writer->append_message(body, r, true);
                    if (e) {
                        ++invalid;
                        if (errors.size() < shown)
                            errors.push_back(fmt::format("row {} (line {}): {}", c.info(i).row,
                                                         c.info(i).line, e->message));
                    } else {
                        ++valid;
                    }
                    break;
                }
                case engine::validity::invalid:
                    ++invalid;
                    if (errors.size() < shown) errors.push_back(reason);
                    break;
                case engine::validity::duplicate:
                    ++duplicate;
                    break;
                case engine::validity::suppressed:
                    ++suppressed_rows;
                    break;
                case engine::validity::other_shard:
                    break;  // counted above
            }
        }
        if (!*more) break;
    }
    if (job->cfg.shard.active())
        fmt::print("shard      {} ({} rows of the other shards not checked)\n",
                   job->cfg.shard.text(), other_shards);
    fmt::print("rows       {}\nvalid      {}\ninvalid    {}\nduplicate  {}\nsuppressed {}\n", rows,
               valid, invalid, duplicate, suppressed_rows);
    if (!errors.empty()) {
        fmt::print("first errors:\n");
        for (const auto& e : errors) fmt::print("  {}\n", e);
    }
    return invalid > 0 ? exit_some : exit_ok;
}

}  // namespace salvo::cli
