/* main.c — entry point: parse the command line, run the command, map the result to the exit code. */
#include "args.h"
#include "report.h"

int main(int argc, char **argv) {
        (void)argc; (void)argv;
        return FF_EXIT_INTERNAL;
}
