// Atomic sealed files: CRC-32 check value, seal/unseal round trip and every corruption refused,
// errno-carrying write failures that leave no .tmp, and the path checks.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "check.h"
#include "core/atomic_file.h"

namespace {
std::string scratch(const char* name) { return std::string("/tmp/mssl-atomic-test-") + std::to_string(::getpid()) + "-" + name; }
bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}
}  // namespace

MSSL_TEST(atomic_file_crc32_check_value) {
  // The standard check value of CRC-32/ISO-HDLC (zlib, PNG): crc("123456789") = 0xCBF43926.
  CHECK(mssl::crc32("123456789", 9) == 0xCBF43926u);
  CHECK(mssl::crc32("", 0) == 0u);
  // Incremental == one pass.
  CHECK(mssl::crc32("6789", 4, mssl::crc32("12345", 5)) == 0xCBF43926u);
}

MSSL_TEST(atomic_file_seal_roundtrip_and_corruption) {
  const std::string payload = "momentum-ssl checkpoint payload \x01\x02\x03";
  std::string sealed = mssl::seal(payload);
  CHECK(sealed.size() == payload.size() + 20);
  std::string copy = sealed;
  mssl::unseal(copy, "x");
  CHECK(copy == payload);
  for (size_t i = 0; i < sealed.size(); ++i) {  // every single flipped bit, trailer included
    std::string bad = sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    CHECK(mssl_test::throwsAs<mssl::CorruptFileError>([&] { mssl::unseal(bad, "f.pt"); }, "'f.pt' is corrupt"));
  }
  std::string cut = sealed.substr(0, sealed.size() - 1);
  CHECK(mssl_test::throwsAs<mssl::CorruptFileError>([&] { mssl::unseal(cut, "f"); }, "no integrity trailer"));
  std::string longer = sealed + "x";
  CHECK(mssl_test::throwsAs<mssl::CorruptFileError>([&] { mssl::unseal(longer, "f"); }));
  std::string empty;
  CHECK(mssl_test::throwsAs<mssl::CorruptFileError>([&] { mssl::unseal(empty, "f"); }));
}

MSSL_TEST(atomic_file_write_read_and_failures) {
  const std::string p = scratch("a.bin");
  mssl::writeFileAtomic(p, "hello");
  CHECK(mssl::readWholeFile(p) == "hello");
  CHECK(!exists(p + ".tmp"));
  mssl::writeFileAtomic(p, "world!");  // replaces
  CHECK(mssl::readWholeFile(p) == "world!");
  // A full disk: the .tmp is a link to /dev/full. ENOSPC, named, and the .tmp is gone.
  CHECK(::symlink("/dev/full", (p + ".tmp").c_str()) == 0);
  CHECK(mssl_test::throwsAs<mssl::IoError>([&] { mssl::writeFileAtomic(p, std::string(1 << 16, 'x')); }, "ENOSPC"));
  CHECK(!exists(p + ".tmp"));
  CHECK(mssl::readWholeFile(p) == "world!");  // the old file is intact
  try {
    mssl::writeFileAtomic("/nonexistent-mssl-dir/x", "x");
    CHECK(false);
  } catch (const mssl::IoError& e) {
    CHECK(e.errnoName() == "ENOENT");
    CHECK(e.path() == "/nonexistent-mssl-dir/x.tmp");
  }
  CHECK(mssl_test::throwsAs<mssl::IoError>([&] { mssl::readWholeFile("/nonexistent-mssl-dir/x"); }, "ENOENT"));
  std::remove(p.c_str());
  CHECK(mssl::removeStaleTemp(p) == false);
}

MSSL_TEST(atomic_file_regular_target_check) {
  CHECK(mssl_test::throwsAs<std::invalid_argument>([] { mssl::checkRegularFileTarget("/dev/full", "path"); }, "is a device"));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([] { mssl::checkRegularFileTarget("/tmp", "path"); }, "is a folder"));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([] { mssl::checkRegularFileTarget(std::string("ck\0.pt", 6), "path"); }, "NUL byte"));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([] { mssl::checkRegularFileTarget("", "path"); }, "non-empty"));
  mssl::checkRegularFileTarget(scratch("does-not-exist"), "path");  // a new file is fine
}
