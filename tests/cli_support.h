#pragma once

// What the tests of the commands use: the built `tykhook` run as a user would, in temporary
// directories, waited for on conditions (all of it in the test support library).

#include "support/files.h"
#include "support/tykhook_process.h"
#include "support/wait.h"
