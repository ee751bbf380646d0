// Delivery description files: protobuf text format to delivery::DeliveryDescription.
#include "enclave/steward/description_file.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <sstream>

#include "enclave/base/status_macros.h"
#include "enclave/v1/delivery.pb.h"

namespace enclave::steward {
namespace {

namespace pb = google::protobuf;

class Collector final : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (first.empty()) {
      first = std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
    }
  }
  std::string first;
};

delivery::ColumnType TypeOf(v1::delivery::ColumnType t) {
  switch (t) {
    case v1::delivery::BSN: return delivery::ColumnType::kBsn;
    case v1::delivery::INTEGER: return delivery::ColumnType::kInteger;
    case v1::delivery::DATE: return delivery::ColumnType::kDate;
    case v1::delivery::REAL: return delivery::ColumnType::kReal;
    default: return delivery::ColumnType::kText;
  }
}

}  // namespace

absl::StatusOr<delivery::DeliveryDescription> ParseDescription(const std::string& text,
                                                                const std::string& name) {
  v1::delivery::DeliveryDescription proto;
  pb::TextFormat::Parser parser;
  Collector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &proto)) {
    return absl::InvalidArgumentError(name + ":" + errors.first);
  }
  delivery::DeliveryDescription d;
  d.dataset = proto.dataset();
  d.holder = proto.holder();
  d.population_register = proto.population_register();
  for (const v1::delivery::DeliveryColumn& c : proto.column()) {
    if (c.type() == v1::delivery::COLUMN_TYPE_UNSPECIFIED) {
      return absl::InvalidArgumentError(name + ": column '" + c.name() +
                                        "' needs a type (BSN, TEXT, INTEGER, DATE, REAL)");
    }
    delivery::ColumnSpec spec;
    spec.name = c.name();
    spec.type = TypeOf(c.type());
    spec.optional = c.optional();
    spec.allowed.assign(c.allowed().begin(), c.allowed().end());
    if (c.has_min()) spec.min = c.min();
    if (c.has_max()) spec.max = c.max();
    if (c.max_length() != 0) spec.max_length = c.max_length();
    spec.target = c.target();
    spec.target_kind = c.target_kind();
    d.columns.push_back(std::move(spec));
  }
  d.key.assign(proto.key().begin(), proto.key().end());
  if (absl::Status s = delivery::CheckDescription(d); !s.ok()) {
    return absl::InvalidArgumentError(name + ": " + std::string(s.message()));
  }
  int bsn_columns = 0;
  for (const delivery::ColumnSpec& c : d.columns) {
    bsn_columns += c.type == delivery::ColumnType::kBsn ? 1 : 0;
  }
  if (d.population_register && bsn_columns != 1) {
    return absl::InvalidArgumentError(name + ": a population register has exactly one BSN column");
  }
  for (const char* reserved : {"d_", "steward_", "sqlite_", "meta"}) {
    if (d.dataset.rfind(reserved, 0) == 0) {
      return absl::InvalidArgumentError(name + ": dataset names starting with '" +
                                        std::string(reserved) + "' are reserved");
    }
  }
  if (d.dataset.find("__") != std::string::npos) {
    return absl::InvalidArgumentError(name + ": dataset names must not contain '__'");
  }
  return d;
}

absl::StatusOr<delivery::DeliveryDescription> LoadDescription(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read delivery description " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseDescription(text.str(), path);
}

}  // namespace enclave::steward
