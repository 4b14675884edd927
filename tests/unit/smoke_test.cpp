#include <gtest/gtest.h>

#include "emu/machine.h"

TEST(Smoke, Builds) { SUCCEED(); }
