package org.addernet.data;

/**
 * A dataset file is missing, malformed or inconsistent. The message always names the file (or directory)
 * and the problem, since the user's next step is to look at that file.
 *
 * <p>Unchecked so that readers can be called from lambdas (Spark tasks, thread-pool bodies); not to be
 * confused with {@code java.util.zip.DataFormatException}.
 */
public final class DataFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DataFormatException(String message) {
        super(message);
    }

    public DataFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
