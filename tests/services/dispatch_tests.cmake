# Dispatcher tests (services/dispatch/): a real redis-server, a fake Channel. Included from
# tests/services/CMakeLists.txt.
herald_add_test(dispatcher_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/dispatcher_test.cpp
  LIBS herald::dispatch)
