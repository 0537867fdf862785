# Cross toolchain for the guest: Debian's g++-aarch64-linux-gnu, fully static
# (glibc, libstdc++, libgcc) so the binary runs from a busybox initramfs.
#   cmake -S stress -B build/stress-aarch64 \
#         -DCMAKE_TOOLCHAIN_FILE=stress/cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Libraries and headers come from the cross sysroot only; the header-only
# CLI11 and nlohmann-json are taken from the host's /usr/include explicitly
# (see PTLAB_STRESS_HEADER_ONLY in CMakeLists.txt).
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# -z norelro: no mprotect() of the RELRO segment at start-up. Under fault injection (failslab)
# that mprotect fails with ENOMEM and static glibc aborts before main() ("cannot apply
# additional memory protection after relocation").
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libstdc++ -static-libgcc -Wl,-z,norelro")
set(PTLAB_STRESS_STATIC ON CACHE BOOL "link ptlab-stress statically" FORCE)
