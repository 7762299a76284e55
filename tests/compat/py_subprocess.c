/* py_subprocess.c: the child that py_subprocess.sh's Python program starts: reads its
 * stdin to EOF, then exits with the status given as its argument (and says so). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int c, n = 0;
	while ((c = getchar()) != EOF)
		n++;
	printf("child read %d bytes\n", n);
	return argc > 1 ? atoi(argv[1]) : 0;
}
