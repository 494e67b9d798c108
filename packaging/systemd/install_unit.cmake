# Run by `cmake --install` (CMakeLists.txt): writes tykhook.service from its template with the path
# of the installed program, and installs it into lib/systemd/system of the prefix.
# In: TYKHOOK_UNIT_TEMPLATE, TYKHOOK_UNIT_WORK_DIR, TYKHOOK_UNIT_BINDIR (relative to the prefix,
# or absolute); CMAKE_INSTALL_PREFIX and DESTDIR as the install has them.

set(TYKHOOK_BINDIR "${TYKHOOK_UNIT_BINDIR}")
if(NOT IS_ABSOLUTE "${TYKHOOK_BINDIR}")
  set(TYKHOOK_BINDIR "${CMAKE_INSTALL_PREFIX}/${TYKHOOK_BINDIR}")
endif()
# One work file per destination: installs into two prefixes at once (tests) do not share it.
string(MD5 destination "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(unit "${TYKHOOK_UNIT_WORK_DIR}/${destination}/tykhook.service")
configure_file("${TYKHOOK_UNIT_TEMPLATE}" "${unit}" @ONLY)
file(INSTALL "${unit}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
