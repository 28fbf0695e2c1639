#pragma once
/// A private temporary directory (mkdtemp under the system temp dir),
/// removed with everything in it by the destructor. Not thread-safe.

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace salvo::test {

class temp_dir {
  public:
    explicit temp_dir(const std::string& prefix = "salvo-test") {
        std::string templ =
            (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
        path_ = templ;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const {
        return path_ / name;
    }

  private:
    std::filesystem::path path_;
};

}  // namespace salvo::test
