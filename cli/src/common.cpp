// Exit codes and the rendering setup of preview and validate.
#include "common.hpp"

#include "commands.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <ctime>
#include <filesystem>

#include <sys/stat.h>

namespace salvo::cli {

int exit_code_for(const engine::report& r) noexcept {
    if (r.stopped_early()) return exit_stopped;
    using engine::fate;
    if (r.count(fate::rejected) + r.count(fate::failed) + r.count(fate::unknown) > 0)
        return exit_some;
    return exit_ok;
}

std::optional<rendering> prepare_rendering(engine::job_config cfg, std::string key) {
    const auto failed = [](const auto& error) {
        fmt::print(stderr, "salvo: {}\n", error.message);
        return std::nullopt;
    };
    rendering r;
    r.cfg = std::move(cfg);
    // A list job reads the copy `salvo send` makes of the list: the last one,
    // saying when it was made, or a first one fetched now.
    if (const auto id = r.cfg.recipients.marketing_list; id != 0) {
        const auto& copy = r.cfg.recipients.path;
        struct stat st {};
        if (::stat(copy.c_str(), &st) == 0) {
            char when[32] = "?";
            std::tm tm{};
            if (gmtime_r(&st.st_mtime, &tm))
                std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
            fmt::print(stderr,
                       "note: recipients.marketing_list {}: reading the copy the last salvo send "
                       "made, {} (written {} UTC); salvo send fetches the list again and says "
                       "if it changed\n",
                       id, copy.string(), when);
        } else {
            fmt::print(stderr,
                       "note: recipients.marketing_list {}: no copy of the list yet; fetching it "
                       "from the Marketing API into {} (the copy salvo send starts from)\n",
                       id, copy.string());
            if (fetch_marketing_list(r.cfg, false, false) != exit_ok) return std::nullopt;
        }
    }
    auto src = engine::open_recipients(r.cfg);
    if (!src) return failed(src.error());
    r.src = std::move(*src);
    auto message = engine::compile_message(r.cfg, r.src->keys());
    if (!message) return failed(message.error());
    r.message = std::move(*message);
    auto check = engine::make_validator(r.cfg, *r.src, r.suppressed);
    if (!check) return failed(check.error());
    r.check.emplace(std::move(*check));
    auto writer = engine::make_request_writer(r.cfg, r.message.spec, std::move(key));
    if (!writer) return failed(writer.error());
    r.writer = std::move(*writer);
    return r;
}

}  // namespace salvo::cli
