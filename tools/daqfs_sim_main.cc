// daqfs-sim: publishes detector stream series (tools/daqfs_sim.h).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "tools/daqfs_sim.h"
#include "tools/daqfs_sim_args.h"

namespace {

void OnSignal(int) { _exit(130); }

}  // namespace

int main(int argc, char** argv) {
  daqfs::SimOptions options;
  daqfs::CliOutcome outcome = daqfs::ParseSimArgs(argc, argv, &options);
  if (!outcome.run) {
    std::fputs(outcome.out.c_str(), stdout);
    std::fputs(outcome.err.c_str(), stderr);
    return outcome.exit_code;
  }
  if (!options.from.empty()) {
    // Every recorded frame a run sends (at most --frames), read and decoded before sending.
    daqfs::Result<daqfs::SimSource> source = daqfs::LoadSimSource(options.from, options.frames);
    if (!source.ok()) {
      std::fprintf(stderr, "daqfs-sim: %s\n", source.status().message().c_str());
      return 2;
    }
    std::printf("daqfs-sim: replaying %s\n", source->what.c_str());
    options.width = source->width;
    options.height = source->height;
    options.type = source->type;
    options.source = std::make_shared<const daqfs::SimSource>(std::move(*source));
  }
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto progress = [&](uint64_t sent, uint64_t dropped, uint64_t total) {
    if (!tty) return;
    std::fprintf(stderr, "\r%llu/%llu frames sent, %llu dropped ",
                 static_cast<unsigned long long>(sent), static_cast<unsigned long long>(total),
                 static_cast<unsigned long long>(dropped));
  };
  auto bound = [&](const std::string& endpoint) {
    std::printf("daqfs-sim: %s %s %s\n", options.connect ? "connected to" : "bound",
                endpoint.c_str(), daqfs::StreamProtocolName(options.protocol));
    std::fflush(stdout);
  };
  daqfs::Result<daqfs::SimResult> r = daqfs::RunSim(options, progress, bound);
  if (tty) std::fputc('\n', stderr);
  if (!r.ok()) {
    std::fprintf(stderr, "daqfs-sim: %s\n", r.status().message().c_str());
    return 2;
  }
  const double s = r->seconds > 0 ? r->seconds : 1e-9;
  std::printf(
      "daqfs-sim: sent %llu frames (%llu bytes) in %.3f s: %.1f frames/s, %.3f GB/s; "
      "dropped %llu\n",
      static_cast<unsigned long long>(r->sent), static_cast<unsigned long long>(r->bytes),
      r->seconds, r->sent / s, r->bytes / s / 1e9, static_cast<unsigned long long>(r->dropped));
  return 0;
}
