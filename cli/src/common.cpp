// Exit codes and the rendering setup of preview and validate.
#include "common.hpp"

#include <fmt/core.h>

#include <cstdio>

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
