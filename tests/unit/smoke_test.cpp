#include <gtest/gtest.h>

#include "emu/board/machine.h"

TEST(Smoke, Builds) { SUCCEED(); }
