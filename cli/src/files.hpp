#pragma once
// Files the CLI writes (mode 0600: they hold recipients' personal data) and
// temp directories.

#include <filesystem>
#include <string>

namespace salvo::cli {

/// Writes `text` to `file`; false (with a message on stderr) on failure.
bool write_text_file(const std::filesystem::path& file, const std::string& text);

/// A fresh private directory under the system temp dir.
[[nodiscard]] std::filesystem::path make_temp_dir(const std::string& prefix);

/// A temp directory (make_temp_dir) removed with everything in it when the
/// object goes.
class temp_dir {
  public:
    explicit temp_dir(const std::string& prefix);
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

}  // namespace salvo::cli
