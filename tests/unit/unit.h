/* unit.h — common includes for the cmocka unit tests (FIXTURES and REPO_DIR come from the Makefile). */
#pragma once
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
