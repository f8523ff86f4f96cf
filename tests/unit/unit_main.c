/* The main() of every unit test program: run its suite, exit non-zero on
 * any failure. */
#include "build-config.h"

#include <stdlib.h>

#include "tests/unit/unit_suite.h"

int main(void)
{
	SRunner *sr = srunner_create(unit_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
