// Test helper run from inside a mount: prints the ids the kernel gave the process, so a test can
// tell whether a setuid or setgid bit took effect.
#include <unistd.h>

#include <cstdio>

int main() {
  std::printf("euid=%u egid=%u\n", static_cast<unsigned>(geteuid()),
              static_cast<unsigned>(getegid()));
  return 0;
}
