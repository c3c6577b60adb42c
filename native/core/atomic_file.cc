#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace mssl {

namespace {

constexpr char kMagic[8] = {'M', 'S', 'S', 'L', 'S', 'E', 'A', 'L'};
constexpr size_t kTrailerSize = sizeof(kMagic) + 8 + 4;

std::string describe(const std::string& op, const std::string& path, int err) {
  return op + " '" + path + "': " + errnoName(err) + " (" + std::strerror(err) + ")";
}

std::string folderOf(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Writes all of `size` bytes, retrying short writes and EINTR.
bool writeAll(int fd, const char* p, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void putLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t getLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

IoError::IoError(const std::string& op, const std::string& path, int err)
    : std::runtime_error(describe(op, path, err)), path_(path), err_(err) {}

std::string IoError::errnoName() const { return mssl::errnoName(err_); }

CorruptFileError::CorruptFileError(const std::string& path, const std::string& why)
    : std::runtime_error("'" + path + "' is corrupt: " + why), path_(path) {}

std::string errnoName(int err) {
  switch (err) {
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EROFS: return "EROFS";
    case EIO: return "EIO";
    case EEXIST: return "EEXIST";
    case EBUSY: return "EBUSY";
    case EXDEV: return "EXDEV";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EFBIG: return "EFBIG";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EINVAL: return "EINVAL";
    case ENXIO: return "ENXIO";
    default: return "errno " + std::to_string(err);
  }
}

void checkRegularFileTarget(const std::string& path, const char* what) {
  if (path.empty()) throw std::invalid_argument(std::string(what) + " must be a non-empty path");
  if (path.find('\0') != std::string::npos) {
    throw std::invalid_argument(std::string(what) + " must not contain a NUL byte, got '" + path.substr(0, path.find('\0')) + "\\0...'");
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    const char* kind = S_ISDIR(st.st_mode) ? "a folder" : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "not a regular file";
    throw std::invalid_argument(std::string(what) + " '" + path + "' exists and is " + kind + " (a regular file is required)");
  }
}

void writeFileAtomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot create", tmp, errno);
  auto fail = [&](const char* op, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw IoError(op, tmp, err);
  };
  if (!writeAll(fd, bytes.data(), bytes.size())) fail("cannot write", errno);
  if (::fsync(fd) != 0) fail("cannot fsync", errno);
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) fail("cannot close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw IoError("cannot rename '" + tmp + "' to", path, err);
  }
  // The rename is durable only once the folder entry is on disk.
  const std::string dir = folderOf(path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: some file systems refuse fsync on folders
    ::close(dfd);
  }
}

std::string readWholeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = S_ISDIR(st.st_mode) ? EISDIR : errno ? errno : EINVAL;
    ::close(fd);
    throw IoError("not a readable regular file", path, err);
  }
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  std::array<char, 1 << 16> buf;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw IoError("cannot read", path, err);
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

bool removeStaleTemp(const std::string& path) { return ::unlink((path + ".tmp").c_str()) == 0; }

uint32_t crc32(const void* data, size_t size, uint32_t crc) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

std::string seal(std::string payload) {
  const uint64_t n = payload.size();
  const uint32_t c = crc32(payload.data(), payload.size());
  payload.append(kMagic, sizeof(kMagic));
  putLe(payload, n, 8);
  putLe(payload, c, 4);
  return payload;
}

void unseal(std::string& bytes, const std::string& path) {
  if (bytes.size() < kTrailerSize || std::memcmp(bytes.data() + bytes.size() - kTrailerSize, kMagic, sizeof(kMagic)) != 0) {
    throw CorruptFileError(path, "no integrity trailer (cut off, damaged, or not written by momentum-ssl >= 0.2)");
  }
  const char* t = bytes.data() + bytes.size() - kTrailerSize + sizeof(kMagic);
  const uint64_t n = getLe(t, 8);
  const uint32_t want = static_cast<uint32_t>(getLe(t + 8, 4));
  if (n != bytes.size() - kTrailerSize) {
    throw CorruptFileError(path, "length mismatch (trailer says " + std::to_string(n) + " bytes, file holds " +
                                     std::to_string(bytes.size() - kTrailerSize) + ")");
  }
  const uint32_t have = crc32(bytes.data(), n);
  if (have != want) throw CorruptFileError(path, "checksum mismatch (CRC-32 of the payload differs from the one stored)");
  bytes.resize(n);
}

}  // namespace mssl
