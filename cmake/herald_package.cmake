# Installation and the Debian package. `cmake --install` puts the binaries under the prefix; the
# package (`cpack -G DEB` in the build tree, or the `package` target) installs under /usr:
#   /usr/bin/{heraldd,heraldctl,herald-sim}, /lib/systemd/system/heraldd.service,
#   /etc/herald/herald.json (a conffile), /usr/share/herald/external-redis.conf and the docs.
# Its maintainer scripts (deploy/debian/) create the herald user and /var/lib/herald.
include(GNUInstallDirs)

install(TARGETS heraldd heraldctl herald-sim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Absolute on purpose: systemd looks for units there whatever the prefix. The unit runs
# /usr/bin/heraldd, where the package puts it; installed under another prefix, override ExecStart=
# in a drop-in.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/heraldd.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/herald.json DESTINATION /etc/herald)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/external-redis.conf
  DESTINATION ${CMAKE_INSTALL_DATADIR}/herald)
# The web console's files, as they are in the repository (no build step); the unit points
# heraldd at them with HERALD_CONSOLE_DIR.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/services/console/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/herald/console)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/config/herald.example.json
  ${PROJECT_SOURCE_DIR}/deploy/redis-production.conf
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME herald)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Herald maintainers <herald@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "publishes approved government information and overseas safety alerts to public channels")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# DEB-DEFAULT names the file herald_<version>_<arch>.deb (no Debian revision is set).
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# dpkg-shlibdeps works out the shared libraries' packages; redis-server is run by heraldd itself
# (redis.url "embedded", the shipped config), adduser by postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, redis-server (>= 5:7)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/deploy/debian/postinst ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
  ${PROJECT_SOURCE_DIR}/deploy/debian/postrm ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Stripped: with their debug information the RelWithDebInfo binaries are over 100 MB each.
set(CPACK_STRIP_FILES ON)
include(CPack)
