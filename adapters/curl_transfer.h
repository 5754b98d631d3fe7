// One HTTP request's libcurl state, shared by the blocking HttpClient and the HttpEngine: how a
// request becomes curl options, and how curl's outcome becomes a Result.
#pragma once

#include <curl/curl.h>

#include "adapters/curl_handles.h"
#include "adapters/http_client.h"

namespace herald {

struct CurlTransfer {
  HttpRequest request;  // curl reads the URL and body from here: it outlives the transfer
  HttpClientOptions options;
  CurlSlist headers;
  HttpResponse response;  // curl's callbacks write into it
  bool body_too_large = false;
  char error_buffer[CURL_ERROR_SIZE] = {};
};

// Sets every option of `transfer` on `curl` (a fresh or reset easy handle), CURLOPT_PRIVATE
// pointing at `transfer`. An error only when the headers could not be built.
Result<void> prepare_transfer(CURL* curl, CurlTransfer& transfer);

// What the transfer's outcome means, classified as HttpClient::send documents.
Result<HttpResponse> finish_transfer(CURL* curl, CurlTransfer& transfer, CURLcode code);

}  // namespace herald
