// libFuzzer target: the job-file parser (engine::parse_job) and `--set`
// overrides. The input is JSON '\0' OVERRIDE '\0' OVERRIDE …; relative
// paths resolve under a folder that does not exist, so no template or
// attachment file is found. Inputs that could name a device or a
// kernel file (/dev/zero would be read forever) are skipped.

#include <salvo/engine/job_config.hpp>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

// The input with "\/" and ASCII "\u00XX" escapes decoded, so that a path
// spelled with escapes is seen too.
std::string decoded(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\\' && i + 1 < in.size() && in[i + 1] == '/') {
            out += '/';
            ++i;
        } else if (in[i] == '\\' && i + 5 < in.size() && in[i + 1] == 'u' && in[i + 2] == '0' &&
                   in[i + 3] == '0' && std::isxdigit(static_cast<unsigned char>(in[i + 4])) &&
                   std::isxdigit(static_cast<unsigned char>(in[i + 5]))) {
            out += static_cast<char>(std::stoi(std::string(in.substr(i + 4, 2)), nullptr, 16));
            i += 5;
        } else {
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(in[i])));
        }
    }
    return out;
}

bool names_a_special_file(std::string_view in) {
    const std::string d = decoded(in);
    for (const char* bad : {"/dev", "/proc", "/sys", "/run"})
        if (d.find(bad) != std::string::npos) return true;
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (names_a_special_file(input)) return 0;
    const auto cut = input.find('\0');
    const std::string_view json = input.substr(0, cut);
    std::vector<std::string> overrides;
    for (std::string_view rest = cut == std::string_view::npos ? "" : input.substr(cut + 1);
         !rest.empty() && overrides.size() < 8;) {
        const auto end = rest.find('\0');
        overrides.emplace_back(rest.substr(0, end));
        rest = end == std::string_view::npos ? "" : rest.substr(end + 1);
    }
    auto job = salvo::engine::parse_job(json, "/nonexistent-salvo-fuzz", overrides);
    if (!job) {
        if (job.error().message.empty()) std::abort();  // every error says what
        return 0;
    }
    // A parsed job has what finish() promises.
    if (job->recipients.path.empty() || job->message.from.email.empty() ||
        !job->message.subject.present || job->limits.messages_per_request < 1 ||
        job->rate.max_in_flight < 1 || job->retry.max_attempts < 1)
        std::abort();
    return 0;
}
