# The one global setting: sanitizers must instrument every object in the link.
if(ENCLAVE_SANITIZE)
  list(JOIN ENCLAVE_SANITIZE "," enclave_sanitizers)
  add_compile_options(-fsanitize=${enclave_sanitizers} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${enclave_sanitizers})
endif()
