"""Reference data: ATECO activity codes and Italian comuni, pure Python and cached."""
