#include "profile/model.hpp"

namespace agentbox::profile {

std::string Source::str() const {
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

}  // namespace agentbox::profile
