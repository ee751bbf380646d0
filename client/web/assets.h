// The page's static files, embedded in enclavectl at build time from client/web/assets/ by
// client/web/embed_assets.cmake (every file, any depth). Nothing is read from disk at run time.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace enclave::web {

struct Asset {
  const char* path;          // "/index.html", "/js/app.js": relative to assets/, with a leading '/'
  const char* content_type;  // by extension (.html .js .mjs .css .svg .json .woff2 .png .txt)
  const unsigned char* data;
  std::size_t size;
};

// Every embedded file, sorted by path (the generated web_assets.cc).
std::span<const Asset> Assets();

}  // namespace enclave::web
