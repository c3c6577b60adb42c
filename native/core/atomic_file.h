// Files that are either wholly written or not at all, and that prove they are intact when read.
//
// writeFileAtomic: the bytes go to `path.tmp`, which is fsync'd, renamed over `path`, and the
// folder fsync'd — a crash at any moment leaves the old file or the new one, never a torn one; a
// failed write removes its `.tmp` (a full disk stays no fuller than before).
// seal/unseal: a trailer (magic, payload length, CRC-32 of the payload) appended to a payload, so
// any flipped, zeroed or cut-off byte is found before anything is parsed.
// No LibTorch here: this is plain POSIX, usable by any writer.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace mssl {

// An operating-system I/O failure: the operation, the path and errno (ENOSPC, EACCES, ...).
class IoError : public std::runtime_error {
 public:
  IoError(const std::string& op, const std::string& path, int err);
  const std::string& path() const { return path_; }
  int error() const { return err_; }
  // "ENOSPC", "EACCES", ... ("EIO" style names; "errno 123" for unknown ones).
  std::string errnoName() const;

 private:
  std::string path_;
  int err_;
};

// A file whose integrity check failed (wrong length, checksum mismatch, no trailer).
class CorruptFileError : public std::runtime_error {
 public:
  CorruptFileError(const std::string& path, const std::string& why);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Name of an errno value ("ENOSPC"); "errno N" when unknown.
std::string errnoName(int err);

// Throws std::invalid_argument when `path` is empty, holds a NUL byte, or names something that
// exists and is not a regular file (a device such as /dev/full, a folder, a FIFO). `what` names
// the argument in the message.
void checkRegularFileTarget(const std::string& path, const char* what);

// The atomic write described above. Throws IoError (with the .tmp removed) on any failure.
void writeFileAtomic(const std::string& path, const std::string& bytes);

// The whole file; IoError when it cannot be opened or read.
std::string readWholeFile(const std::string& path);

// Removes `path.tmp` left by a writer that was killed mid-write; true if there was one.
bool removeStaleTemp(const std::string& path);

// CRC-32 (IEEE 802.3, the zlib/PNG polynomial) of `size` bytes, continuing from `crc`.
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

// payload + trailer. The trailer is 20 bytes: "MSSLSEAL", uint64 payload length, uint32 CRC-32
// (little-endian).
std::string seal(std::string payload);

// The payload of a sealed file's bytes; CorruptFileError naming `path` when the trailer is absent
// or the length or checksum do not match. Removes the trailer in place (no copy).
void unseal(std::string& bytes, const std::string& path);

}  // namespace mssl
