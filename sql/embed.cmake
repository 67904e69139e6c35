# cmake -DIN=file.sql -DOUT=file.h -DNAME=c_name -P embed.cmake
# Writes OUT: the bytes of IN as a NUL-terminated C array named NAME.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "(..)" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* Generated from ${IN} by sql/embed.cmake. */\n"
                  "static const char ${NAME}[] = {${bytes}0x00};\n")
