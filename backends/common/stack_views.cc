#include "backends/common/stack_views.h"

#include <string>
#include <utility>
#include <vector>

#include "backends/common/composed_source.h"

namespace daqfs {
namespace {

ComposedSource::Piece Generated(const std::shared_ptr<const Bytes>& bytes) {
  ComposedSource::Piece piece;
  piece.bytes = bytes;
  return piece;
}

// `frames` frames of the units stream starting at unit `unit`.
ComposedSource::Piece Frames(const ImageStack& stack, const ImageStack::Part& part, uint64_t unit,
                             uint64_t frames) {
  ComposedSource::Piece piece;
  piece.units = part.units;
  piece.offset = part.units->BlockRangeOf(unit).offset;
  piece.length = frames * stack.FrameBytes();
  return piece;
}

// stack identity + "#<view>:<frame number>".
std::string FrameIdentity(const ImageStack& stack, const char* view, uint64_t index) {
  return stack.identity() + "#" + view + ":" + std::to_string(stack.NumberOfIndex(index));
}

}  // namespace

uint64_t TiffFrameSize(const ImageStack& stack) {
  return stack.tiff_head()->size() + stack.FrameBytes() + stack.tiff_tail()->size();
}

uint64_t RawFrameSize(const ImageStack& stack) { return stack.FrameBytes(); }

uint64_t NpySize(const ImageStack& stack) {
  return stack.npy_header()->size() + stack.frames() * stack.FrameBytes();
}

std::shared_ptr<ByteSource> MakeTiffFrame(const ImageStack& stack, uint64_t index) {
  if (index >= stack.frames()) return nullptr;
  const ImageStack::Location at = stack.Locate(index);
  std::vector<ComposedSource::Piece> pieces;
  pieces.reserve(3);
  pieces.push_back(Generated(stack.tiff_head()));
  pieces.push_back(Frames(stack, stack.parts()[at.part], at.unit, 1));
  pieces.push_back(Generated(stack.tiff_tail()));
  return std::make_shared<ComposedSource>(std::move(pieces), FrameIdentity(stack, "tif", index));
}

std::shared_ptr<ByteSource> MakeRawFrame(const ImageStack& stack, uint64_t index) {
  if (index >= stack.frames()) return nullptr;
  const ImageStack::Location at = stack.Locate(index);
  std::vector<ComposedSource::Piece> pieces;
  pieces.push_back(Frames(stack, stack.parts()[at.part], at.unit, 1));
  return std::make_shared<ComposedSource>(std::move(pieces), FrameIdentity(stack, "raw", index));
}

std::shared_ptr<ByteSource> MakeNpy(const ImageStack& stack) {
  std::vector<ComposedSource::Piece> pieces;
  pieces.reserve(stack.parts().size() + 1);
  pieces.push_back(Generated(stack.npy_header()));
  for (const ImageStack::Part& part : stack.parts()) {
    pieces.push_back(Frames(stack, part, part.first_unit, part.frames));
  }
  return std::make_shared<ComposedSource>(std::move(pieces), stack.identity() + "#npy");
}

}  // namespace daqfs
