/* provisioning/openapi.json built into the binary (the Makefile makes
 * this object depend on the file), so provd serves the document of the
 * very routes it was built with, whatever is installed where. */
__asm__(".section .rodata\n"
	".global api_openapi_json\n"
	".type api_openapi_json, @object\n"
	"api_openapi_json:\n"
	".incbin \"provisioning/openapi.json\"\n"
	".byte 0\n"
	".previous\n");
