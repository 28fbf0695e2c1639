// Files the CLI writes: personal data at mode 0600, temp directories.
#include "files.hpp"

#include <fmt/core.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace salvo::cli {
namespace fs = std::filesystem;

bool write_text_file(const fs::path& file, const std::string& text) {
    // Mode 0600: what salvo writes holds recipients' personal data.
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::fchmod(fd, 0600) == 0;
    for (std::size_t done = 0; ok && done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::size_t>(n);
    }
    const int saved = errno;
    if (fd >= 0 && ::close(fd) != 0) ok = false;
    if (!ok) {
        fmt::print(stderr,
                   "salvo: cannot write {}: {}; check the directory exists and is writable\n",
                   file.string(), std::strerror(saved));
        return false;
    }
    return true;
}

fs::path make_temp_dir(const std::string& prefix) {
    // mkdtemp: a new directory, mode 0700, never one another run also uses.
    std::string pattern = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr)
        throw std::runtime_error(
            fmt::format("cannot create a temp directory {}: {}; set TMPDIR "
                        "to a writable directory",
                        pattern, std::strerror(errno)));
    return pattern;
}

temp_dir::temp_dir(const std::string& prefix) : path_(make_temp_dir(prefix)) {}

temp_dir::~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

}  // namespace salvo::cli
