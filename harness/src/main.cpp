#include "ptlab/cli.hpp"

#include <iostream>

int main(int argc, char **argv) { return ptlab::run_cli(argc, argv, std::cout, std::cerr); }
