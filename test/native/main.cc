// Runs every MSSL_TEST; an optional argument filters by substring. Ends with "N passed, N failed".
#include <exception>
#include <iostream>

#include "check.h"

namespace mssl_test {
std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}
}  // namespace mssl_test

int main(int argc, char** argv) {
  std::string filter = argc > 1 ? argv[1] : "";
  int passed = 0, failed = 0;
  for (auto& c : mssl_test::cases()) {
    if (!filter.empty() && std::string(c.name).find(filter) == std::string::npos) continue;
    try {
      c.fn();
      ++passed;
      std::cout << "ok   " << c.name << "\n";
    } catch (const std::exception& e) {
      ++failed;
      std::cout << "FAIL " << c.name << ": " << e.what() << "\n";
    }
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
