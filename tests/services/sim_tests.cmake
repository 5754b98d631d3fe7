# Tests for the shared HTTP server and herald-sim (included from tests/services/CMakeLists.txt).
herald_add_test(http_server_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/http_server_test.cpp
  LIBS herald::http_server herald::adapters)
herald_add_test(herald_sim_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/herald_sim_test.cpp
  LIBS herald::adapters)
# The test spawns the binary: build it first.
add_dependencies(herald_sim_test herald-sim)
